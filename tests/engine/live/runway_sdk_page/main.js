// Runway's own browser SDK (@runwayml/avatars, no React) pointed at our server: streamTo() calls
// consume, joins the LiveKit room and plays the avatar in the <video>. The test reads
// window.results and calls window.enableMic() / window.endCall().
import { AvatarEvent, streamTo } from "@runwayml/avatars";

const query = new URLSearchParams(location.search);
const results = { states: [], transcript: {}, errors: [], frames: [], ready: false };
window.results = results;

const video = document.getElementById("avatar");
const probe = document.getElementById("probe").getContext("2d", { willReadFrequently: true });

// A small fingerprint of the picture four times a second: the test checks that it changes.
setInterval(() => {
  if (!video.videoWidth) return;
  probe.drawImage(video, 0, 0, 68, 44);
  const pixels = probe.getImageData(0, 0, 68, 44).data;
  let sum = 0;
  for (let i = 0; i < pixels.length; i += 4) sum = (sum * 31 + pixels[i + 1]) % 1000000007;
  results.frames.push([video.videoWidth, video.videoHeight, sum]);
}, 250);

try {
  const session = await streamTo({
    credentials: {
      sessionId: query.get("sessionId"),
      sessionKey: query.get("sessionKey"),
      baseUrl: query.get("baseUrl"),
    },
    target: video,
    audio: false, // the test opens the microphone after the greeting (the file plays on open)
    video: true,
  });
  window.session = session;
  results.states.push(session.state);
  session.on(AvatarEvent.StateChanged, (state) => results.states.push(state));
  session.on(AvatarEvent.Error, (error) => results.errors.push(String(error)));
  session.on(AvatarEvent.Transcript, (entry) => {
    results.transcript[entry.id] = { text: entry.text, who: entry.participantIdentity };
  });
  window.enableMic = () => session.mic.enable();
  window.endCall = () => session.end();
  results.ready = true;
} catch (error) {
  results.errors.push(`${error.code ?? "error"}: ${error.message}`);
}
