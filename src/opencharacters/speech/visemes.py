"""Phoneme → viseme (mouth shape) classes for the face animator.

The 15 classes are the common Oculus/Meta set (sil, PP, FF, TH, DD, kk, CH, SS, nn, RR, aa, E,
ih, oh, ou). Piper speaks espeak-ng IPA, one symbol per phoneme; stress and length marks carry
no mouth shape of their own and keep the previous one."""

from __future__ import annotations

_CLASSES: dict[str, str] = {}
for _viseme, _symbols in {
    "PP": "pbm",
    "FF": "fv",
    "TH": "θð",
    "DD": "td",
    "kk": "kgŋx",
    "CH": "ʃʒ",
    "SS": "sz",
    "nn": "nl",
    "RR": "ɹrɾɚɝ",
    "aa": "a\u0251æʌɐɒ",  # \u0251 is IPA open back unrounded (not Latin a)
    "E": "eɛəɜ",
    "ih": "i\u026ajy",  # \u026a is IPA near-close front (not capital I)
    "oh": "oɔ",
    "ou": "uʊwʉ",
}.items():
    for _symbol in _symbols:
        _CLASSES[_symbol] = _viseme

_SILENT = frozenset("^$_ .,;:!?…—-'\"")
_MODIFIERS = frozenset("ˈˌːˑ̩̃")


def viseme_for(phoneme: str, previous: str = "sil") -> str:
    if not phoneme or phoneme in _SILENT:
        return "sil"
    if phoneme in _MODIFIERS:
        return previous
    return _CLASSES.get(phoneme[0], "E" if phoneme[0] == "h" else previous)
