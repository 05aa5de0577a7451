"""Localised texts (zh-CN default, en). Capabilities register their own catalogues."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_LOCALE = "zh-CN"
LOCALES = ("zh-CN", "en")

_catalog: dict[str, dict[str, str]] = {}


def register(messages: Mapping[str, Mapping[str, str]]) -> None:
    """Add texts: {key: {"zh-CN": ..., "en": ...}}. Both languages are required."""
    for key, texts in messages.items():
        missing = [loc for loc in LOCALES if loc not in texts]
        if missing:
            raise ValueError(f"message {key!r} lacks {missing}")
        _catalog[key] = dict(texts)


def translate(key: str, locale: str | None = None, /, **params: object) -> str:
    texts = _catalog.get(key)
    if texts is None:
        return key
    text = texts.get(locale or DEFAULT_LOCALE) or texts[DEFAULT_LOCALE]
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def has_message(key: str) -> bool:
    return key in _catalog


def negotiate(accept_language: str | None) -> str:
    """Pick zh-CN or en from an Accept-Language header (q-values honoured)."""
    if not accept_language:
        return DEFAULT_LOCALE
    best: tuple[float, str] | None = None
    for part in accept_language.split(","):
        lang, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        tag = lang.strip().lower()
        loc = "en" if tag.startswith("en") else "zh-CN" if tag.startswith("zh") else None
        if loc and q > 0 and (best is None or q > best[0]):
            best = (q, loc)
    return best[1] if best else DEFAULT_LOCALE


def normalize_locale(locale: str | None) -> str:
    if not locale:
        return DEFAULT_LOCALE
    return "en" if locale.lower().startswith("en") else DEFAULT_LOCALE


register(
    {
        "error.not_found": {"zh-CN": "找不到该对象。", "en": "Not found."},
        "error.forbidden": {"zh-CN": "您无权执行此操作。", "en": "You are not allowed to do this."},
        "error.unauthenticated": {
            "zh-CN": "请先登录。",
            "en": "Please sign in first.",
        },
        "error.invalid_id": {"zh-CN": "ID 格式无效。", "en": "The ID is malformed."},
        "error.invalid": {"zh-CN": "输入无效。", "en": "The input is invalid."},
        "error.internal": {
            "zh-CN": "服务器内部错误，请稍后重试。",
            "en": "Internal server error; please try again later.",
        },
        "error.rate_limited": {
            "zh-CN": "尝试次数过多，请 {minutes} 分钟后再试。",
            "en": "Too many attempts; try again in {minutes} minutes.",
        },
        "error.page_size": {
            "zh-CN": "first 必须在 0 到 {max} 之间。",
            "en": "first must be between 0 and {max}.",
        },
        "error.cursor": {"zh-CN": "分页游标无效。", "en": "The cursor is invalid."},
        "error.idempotency_key": {
            "zh-CN": "幂等键必须为 1 到 100 个字符。",
            "en": "The idempotency key must be 1 to 100 characters.",
        },
        "error.idempotency_reuse": {
            "zh-CN": "该幂等键已用于另一个请求。",
            "en": "This idempotency key was already used for a different request.",
        },
    }
)
