"""String lengths counted in UTF-16 code units, as Runway's JavaScript clients and server count
them (`"😀".length === 2`), so a limit means the same thing in a browser, in Runway's SDKs and
here. For text without emoji and other characters beyond U+FFFF it is the number of characters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class Utf16Length:
    """`Annotated[str, Utf16Length(1, 50)]`: 1 to 50 UTF-16 code units. Errors use pydantic's
    `string_too_short` / `string_too_long` types, so messages read like every other length."""

    min_length: int = 0
    max_length: int | None = None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if self.min_length:
            json_schema["minLength"] = self.min_length
        if self.max_length is not None:
            json_schema["maxLength"] = self.max_length
        return json_schema

    def _check(self, value: str) -> str:
        length = utf16_length(value)
        if self.max_length is not None and length > self.max_length:
            raise PydanticCustomError(
                "string_too_long",
                "String should have at most {max_length} characters",
                {"max_length": self.max_length},
            )
        if length < self.min_length:
            raise PydanticCustomError(
                "string_too_short",
                "String should have at least {min_length} characters",
                {"min_length": self.min_length},
            )
        return value
