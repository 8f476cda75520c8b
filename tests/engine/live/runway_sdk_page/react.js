// Runway's React SDK (@runwayml/avatars-react) pointed at our server, written without JSX so the
// build needs no plugin: <AvatarCall> consumes the session and joins the LiveKit room,
// <AvatarVideo> shows the avatar; a probe component reads the SDK's hooks into window.results.
import { createElement as h, useEffect } from "react";
import { createRoot } from "react-dom/client";
import {
  AvatarCall,
  AvatarVideo,
  useAvatarSession,
  useAvatarStatus,
  useLocalMedia,
  useTranscript,
} from "@runwayml/avatars-react";

const query = new URLSearchParams(location.search);
const results = { statuses: [], states: [], transcript: {}, errors: [], frames: [], ready: false };
window.results = results;

function Probe() {
  const status = useAvatarStatus();
  const session = useAvatarSession();
  const transcript = useTranscript({ interim: true });
  const media = useLocalMedia();
  useEffect(() => void results.statuses.push(status.status), [status.status]);
  useEffect(() => void results.states.push(session.state), [session.state]);
  useEffect(() => {
    for (const entry of transcript) {
      results.transcript[entry.id] = { text: entry.text, who: entry.participantIdentity };
    }
  }, [transcript]);
  window.endCall = () => session.end();
  window.enableMic = () => media.isMicEnabled || media.toggleMic();
  results.ready = session.state === "active";
  return null;
}

createRoot(document.getElementById("root")).render(
  h(
    AvatarCall,
    {
      sessionId: query.get("sessionId"),
      sessionKey: query.get("sessionKey"),
      baseUrl: query.get("baseUrl"),
      audio: false, // the test opens the microphone after the greeting (the file plays on open)
      video: true,
      onError: (error) => results.errors.push(`${error.code ?? "error"}: ${error.message}`),
    },
    h(AvatarVideo),
    h(Probe),
  ),
);

// A small fingerprint of the avatar's picture four times a second.
const probe = document.getElementById("probe").getContext("2d", { willReadFrequently: true });
setInterval(() => {
  const video = document.querySelector("#root video");
  if (!video || !video.videoWidth) return;
  probe.drawImage(video, 0, 0, 68, 44);
  const pixels = probe.getImageData(0, 0, 68, 44).data;
  let sum = 0;
  for (let i = 0; i < pixels.length; i += 4) sum = (sum * 31 + pixels[i + 1]) % 1000000007;
  results.frames.push([video.videoWidth, video.videoHeight, sum]);
}, 250);
