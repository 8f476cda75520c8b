"""Request bodies, validated strictly as Runway does: unknown keys are a 400."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from opencharacters.domain.text_length import Utf16Length, utf16_length
from opencharacters.domain.voices import PRESET_IDS

NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
MAX_DATA_URI_CHARS = 5_242_880


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL, and no legitimate field needs one.
        items = value if isinstance(value, list) else [value]
        if any(isinstance(item, str) and "\x00" in item for item in items):
            raise ValueError("must not contain NUL (\\u0000) characters")
        return value


# --- shared pieces -------------------------------------------------------------------------


def _known_preset(value: str) -> str:
    if value not in PRESET_IDS:
        raise ValueError(f"unknown preset voice {value!r}; one of: {', '.join(PRESET_IDS)}")
    return value


PresetId = Annotated[str, AfterValidator(_known_preset)]


class PresetVoiceRef(Strict):
    type: Literal["runway-live-preset"]
    presetId: PresetId


class CustomVoiceRef(Strict):
    type: Literal["custom"]
    id: UUID


VoiceRef = Annotated[PresetVoiceRef | CustomVoiceRef, Field(discriminator="type")]


def check_media_uri(value: str, *, media: str) -> str:
    """`https://` 13..2048, `runway://` 13..5000, `data:<media>/...` up to 5,242,880 chars."""
    if value.startswith("https://"):
        if not 13 <= utf16_length(value) <= 2048:
            raise ValueError("an https:// URL must be 13 to 2048 characters long")
    elif value.startswith("runway://"):
        if not 13 <= utf16_length(value) <= 5000:
            raise ValueError("a runway:// URI must be 13 to 5000 characters long")
    elif value.startswith(f"data:{media}/"):
        if len(value) > MAX_DATA_URI_CHARS:
            raise ValueError(
                f"a data URI may be at most {MAX_DATA_URI_CHARS} characters long (got {len(value)})"
            )
    else:
        raise ValueError(
            f"must be an https:// URL, a runway:// upload URI or a data:{media}/... URI"
        )
    return value


def reject_duplicates(values: list[Any], what: str) -> None:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!s} appears more than once")
        seen.add(value)


# --- avatars -------------------------------------------------------------------------------

Coordinate = Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]
Point = Annotated[list[Coordinate], Field(min_length=2, max_length=2)]


class FacePoints(Strict):
    """Extension: where the eyes and mouth corners are, in reference-image pixels ("left" is the
    left of the picture). Needed for faces the detector cannot find (mascots, stylized art)."""

    leftEye: Point
    rightEye: Point
    mouthLeft: Point
    mouthRight: Point

    @model_validator(mode="after")
    def _plausible(self) -> FacePoints:
        if self.leftEye[0] >= self.rightEye[0]:
            raise ValueError("leftEye must be left of rightEye in the picture")
        if self.mouthLeft[0] >= self.mouthRight[0]:
            raise ValueError("mouthLeft must be left of mouthRight in the picture")
        eyes_y = (self.leftEye[1] + self.rightEye[1]) / 2
        if (self.mouthLeft[1] + self.mouthRight[1]) / 2 <= eyes_y:
            raise ValueError("the mouth must be below the eyes")
        return self

    def as_rig_points(self) -> dict[str, list[float]]:
        return {
            "left_eye": self.leftEye,
            "right_eye": self.rightEye,
            "mouth_left": self.mouthLeft,
            "mouth_right": self.mouthRight,
        }


AvatarName = Annotated[str, Utf16Length(1, 50)]
Personality = Annotated[str, Utf16Length(1, 10_000)]
AvatarStartScript = Annotated[str, Utf16Length(0, 2000)]


class AvatarCreate(Strict):
    name: AvatarName
    referenceImage: str
    personality: Personality
    voice: VoiceRef
    startScript: AvatarStartScript | None = None
    documentIds: Annotated[list[UUID], Field(max_length=50)] = []
    imageProcessing: Literal["optimize", "none"] = "optimize"
    facePoints: FacePoints | None = None  # extension

    @field_validator("referenceImage")
    @classmethod
    def _image_uri(cls, value: str) -> str:
        return check_media_uri(value, media="image")

    @field_validator("documentIds")
    @classmethod
    def _unique_documents(cls, value: list[UUID]) -> list[UUID]:
        reject_duplicates(value, "document id")
        return value


class AvatarUpdate(Strict):
    name: AvatarName | None = None
    referenceImage: str | None = None
    personality: Personality | None = None
    voice: VoiceRef | None = None
    startScript: AvatarStartScript | None = None
    documentIds: Annotated[list[UUID], Field(max_length=50)] | None = None
    imageProcessing: Literal["optimize", "none"] | None = None
    facePoints: FacePoints | None = None  # extension; null clears

    @field_validator("referenceImage")
    @classmethod
    def _image_uri(cls, value: str | None) -> str | None:
        return None if value is None else check_media_uri(value, media="image")

    @field_validator("documentIds")
    @classmethod
    def _unique_documents(cls, value: list[UUID] | None) -> list[UUID] | None:
        if value is not None:
            reject_duplicates(value, "document id")
        return value

    @model_validator(mode="after")
    def _at_least_one_and_no_nulls(self) -> AvatarUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to update")
        for field in self.model_fields_set - {"startScript", "facePoints"}:
            if getattr(self, field) is None:
                raise ValueError(
                    f"{field} cannot be null (only startScript and facePoints can be cleared)"
                )
        return self


# --- documents -----------------------------------------------------------------------------

DocumentName = Annotated[str, Utf16Length(1, 255)]
DocumentContent = Annotated[str, Utf16Length(1, 200_000)]


def check_file_uri(value: str) -> str:
    """A knowledge file: a `runway://` upload URI (13..5000) or a `data:` URI of any type."""
    if value.startswith("runway://"):
        if not 13 <= len(value) <= 5000:
            raise ValueError("a runway:// URI must be 13 to 5000 characters long")
    elif value.startswith("data:"):
        if len(value) > MAX_DATA_URI_CHARS:
            raise ValueError(
                f"a data URI may be at most {MAX_DATA_URI_CHARS} characters long (got {len(value)})"
            )
    else:
        raise ValueError(
            "must be a runway:// upload URI (POST /v1/uploads) or a data: URI "
            "of a .txt, .md, .pdf or .docx file"
        )
    return value


class DocumentCreate(Strict):
    """`content` (Runway's text document) or, as an extension, `file`: the text is extracted
    and the document's type is "file"."""

    name: DocumentName
    content: DocumentContent | None = None
    file: str | None = None
    fileName: Annotated[str, Utf16Length(1, 255)] | None = None
    """Extension: the file's name (its extension tells .md from .txt for data: URIs)."""

    @field_validator("file")
    @classmethod
    def _file_uri(cls, value: str | None) -> str | None:
        return None if value is None else check_file_uri(value)

    @model_validator(mode="after")
    def _content_or_file(self) -> DocumentCreate:
        if (self.content is None) == (self.file is None):
            raise ValueError(
                "give either content (the text) or file (a runway:// upload or data: URI "
                "of a .txt, .md, .pdf or .docx file), not both"
                if self.content is not None
                else "content is required (or give file: a runway:// upload or data: URI)"
            )
        return self


class DocumentUpdate(Strict):
    name: DocumentName | None = None
    content: DocumentContent | None = None

    @model_validator(mode="after")
    def _at_least_one_and_no_nulls(self) -> DocumentUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one of name, content")
        for field in self.model_fields_set:
            if getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


# --- tools (conversational actions) --------------------------------------------------------

ToolName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NAME_PATTERN)]
Description = Annotated[str, Utf16Length(1, 1024)]
EnumValue = Annotated[str, Utf16Length(0, 64)]


class _ParameterBase(Strict):
    name: ToolName
    description: Description
    required: bool = True


class StringParameter(_ParameterBase):
    type: Literal["string"]
    enum: Annotated[list[EnumValue], Field(min_length=1, max_length=20)] | None = None


class IntegerParameter(_ParameterBase):
    type: Literal["integer"]


class NumberParameter(_ParameterBase):
    type: Literal["number"]


class BooleanParameter(_ParameterBase):
    type: Literal["boolean"]


class ArrayItems(Strict):
    type: Literal["string", "integer", "number", "boolean"]


class ArrayParameter(_ParameterBase):
    type: Literal["array"]
    items: ArrayItems


class ObjectParameter(_ParameterBase):
    type: Literal["object"]
    properties: Annotated[list[Parameter], Field(max_length=20)]

    @field_validator("properties")
    @classmethod
    def _unique_names(cls, value: list[Parameter]) -> list[Parameter]:
        reject_duplicates([p.name for p in value], "property name")
        return value


Parameter = Annotated[
    StringParameter
    | IntegerParameter
    | NumberParameter
    | BooleanParameter
    | ArrayParameter
    | ObjectParameter,
    Field(discriminator="type"),
]
ObjectParameter.model_rebuild()


class _ToolBase(Strict):
    name: ToolName
    description: Description
    parameters: Annotated[list[Parameter], Field(max_length=20)] = []

    @field_validator("parameters")
    @classmethod
    def _unique_names(cls, value: list[Parameter]) -> list[Parameter]:
        reject_duplicates([p.name for p in value], "parameter name")
        return value


class ClientEventTool(_ToolBase):
    type: Literal["client_event"]


class BackendRpcTool(_ToolBase):
    type: Literal["backend_rpc"]
    timeoutSeconds: Annotated[float, Field(ge=1, le=8)] = 4


Tool = Annotated[ClientEventTool | BackendRpcTool, Field(discriminator="type")]


# --- realtime sessions ---------------------------------------------------------------------


def _whole_float_as_int(value: Any) -> Any:
    # JSON has one number type: Python's SDK sends `60.0` for a float 60, and Runway takes it.
    # Strings, booleans and fractions stay refused by the strict check that follows.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_float_as_int), Field(strict=True)]


class PresetAvatarRef(Strict):
    type: Literal["runway-preset"]
    presetId: Literal[
        "game-character",
        "music-superstar",
        "game-character-man",
        "cat-character",
        "influencer",
        "tennis-coach",
        "human-resource",
        "fashion-designer",
        "cooking-teacher",
    ]


class CustomAvatarRef(Strict):
    type: Literal["custom"]
    avatarId: UUID


AvatarRef = Annotated[PresetAvatarRef | CustomAvatarRef, Field(discriminator="type")]


def _livekit_url(value: str) -> str:
    if not value.startswith(("wss://", "ws://", "https://", "http://")):
        raise ValueError("must be a LiveKit server URL: wss://, ws://, https:// or http://")
    if not 8 <= utf16_length(value) <= 2048:
        raise ValueError("must be 8 to 2048 characters long")
    return value


class LiveKitIntegration(Strict):
    """The avatar joins the developer's own LiveKit room as the face of their voice agent
    (docs/livekit.md): LiveKit Agents' avatar protocol, no dialogue model of ours."""

    type: Literal["livekit"] = "livekit"
    url: Annotated[str, AfterValidator(_livekit_url)]
    token: Annotated[str, Utf16Length(1, 2048)]
    roomName: Annotated[str, Utf16Length(1, 256)]
    agentIdentity: Annotated[str, Utf16Length(1, 256)] | None = None


class ElevenLabsIntegration(Strict):
    """Accepted so the answer can say it is not supported (an ElevenLabs agent would own
    the conversation; this server has no ElevenLabs bridge)."""

    type: Literal["elevenlabs"]
    signedUrl: Annotated[str, Utf16Length(1, 2048)]


Integration = Annotated[LiveKitIntegration | ElevenLabsIntegration, Field(discriminator="type")]


class SessionCreate(Strict):
    model: Literal["gwm1_avatars"]
    avatar: AvatarRef
    maxDuration: Annotated[WholeNumber, Field(ge=10, le=1800)] = 300
    personality: Personality | None = None
    startScript: Annotated[str, Utf16Length(1, 2000)] | None = None
    tools: Annotated[list[Tool], Field(max_length=20)] = []
    integration: Integration | None = None
    livekit: LiveKitIntegration | None = None
    """Deprecated alias of `integration` of type livekit (Runway's LiveKit plugin sends it)."""

    @field_validator("tools")
    @classmethod
    def _unique_tools(cls, value: list[Any]) -> list[Any]:
        reject_duplicates([tool.name for tool in value], "tool name")
        return value

    @model_validator(mode="after")
    def _one_integration(self) -> SessionCreate:
        if self.integration is not None and self.livekit is not None:
            raise ValueError("give either integration or the deprecated livekit field, not both")
        return self

    def livekit_integration(self) -> LiveKitIntegration | None:
        """The LiveKit room to join as someone else's agent's face, from either field."""
        if isinstance(self.integration, LiveKitIntegration):
            return self.integration
        return self.livekit


# --- uploads -------------------------------------------------------------------------------


class UploadCreate(Strict):
    filename: Annotated[str, Utf16Length(1, 255)]
    type: Literal["ephemeral"] = "ephemeral"


# --- avatar videos ---------------------------------------------------------------------------


class SpeechAudio(Strict):
    type: Literal["audio"]
    audio: str

    @field_validator("audio")
    @classmethod
    def _audio_uri(cls, value: str) -> str:
        return check_media_uri(value, media="audio")


class PresetSpeechVoice(Strict):
    type: Literal["preset"]
    presetId: PresetId


class CustomSpeechVoice(Strict):
    type: Literal["custom"]
    id: UUID


class SpeechText(Strict):
    type: Literal["text"]
    text: Annotated[str, Utf16Length(1, 5000)]
    voice: Annotated[PresetSpeechVoice | CustomSpeechVoice, Field(discriminator="type")] | None = (
        None
    )


class AvatarVideoCreate(Strict):
    model: Literal["gwm1_avatars"]
    avatar: AvatarRef
    speech: Annotated[SpeechAudio | SpeechText, Field(discriminator="type")]


# --- custom voices ---------------------------------------------------------------------------

VoiceName = Annotated[str, Utf16Length(1, 100)]
VoiceDescription = Annotated[str, Utf16Length(1, 1024)]
VoicePrompt = Annotated[str, Utf16Length(20, 1000)]
VoiceDesignModel = Literal["eleven_ttv_v3", "eleven_multilingual_ttv_v2"]


class VoiceFromText(Strict):
    type: Literal["text"]
    prompt: VoicePrompt
    model: VoiceDesignModel


class VoiceFromAudio(Strict):
    type: Literal["audio"]
    audio: str

    @field_validator("audio")
    @classmethod
    def _audio_uri(cls, value: str) -> str:
        return check_media_uri(value, media="audio")


VoiceBaseModel = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class VoiceCreate(Strict):
    name: VoiceName
    description: VoiceDescription | None = None
    from_: Annotated[VoiceFromText | VoiceFromAudio, Field(discriminator="type", alias="from")]
    base_model: Annotated[VoiceBaseModel | None, Field(alias="baseModel")] = None
    """OpenCharacters' own: the voice model the custom voice is made from (a name from the
    server's engines.tts.piper_voices, or the speech server's voice); default Piper joe."""


class VoiceUpdate(Strict):
    name: VoiceName | None = None
    description: VoiceDescription | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> VoiceUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one of name, description")
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null (only description can be cleared)")
        return self


class VoicePreview(Strict):
    prompt: VoicePrompt
    model: VoiceDesignModel
