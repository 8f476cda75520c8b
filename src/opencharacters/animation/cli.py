"""`opencharacters animate`: a talking face from one image and one audio file, no server."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument(
    "audio", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sheet", is_flag=True, help="Write a contact sheet of key poses (PNG) instead.")
@click.option("--fps", default=25, show_default=True)
@click.option(
    "--face-points",
    help='JSON {"left_eye":[x,y],"right_eye":[x,y],"mouth_left":[x,y],"mouth_right":[x,y]}',
)
def animate(
    image: Path, audio: Path | None, output: Path, sheet: bool, fps: int, face_points: str | None
) -> None:
    """Render IMAGE talking along to AUDIO into an MP4 (or a pose sheet with --sheet)."""
    import json

    import cv2

    from opencharacters.animation.landmarks import NoFaceError
    from opencharacters.animation.media import contact_sheet, write_mp4
    from opencharacters.animation.render import Renderer
    from opencharacters.animation.rig import prepare
    from opencharacters.animation.stream import FaceAnimator
    from opencharacters.media.audio import read_audio

    picture = cv2.imread(str(image), cv2.IMREAD_COLOR)
    if picture is None:
        raise click.UsageError(f"{image} is not a readable image")
    try:
        rig = prepare(picture, json.loads(face_points) if face_points else None)
    except (NoFaceError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    if sheet:
        cv2.imwrite(str(output), contact_sheet(Renderer(rig)))
        click.echo(f"wrote {output}")
        return
    if audio is None:
        raise click.UsageError("AUDIO is required unless --sheet is given")
    sound = read_audio(audio)
    animator = FaceAnimator(rig, fps=fps)
    animator.push_audio(sound)
    count = write_mp4(output, animator.frames_for(sound.duration_s), sound, fps)
    click.echo(f"wrote {output}: {count} frames, {sound.duration_s:.3f} s of audio")
