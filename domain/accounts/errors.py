from __future__ import annotations

from core import i18n
from core.errors import Conflict, Invalid

i18n.register(
    {
        "accounts.bad_credentials": {
            "zh-CN": "账号或密码错误。",
            "en": "The login or password is wrong.",
        },
        "accounts.bad_refresh": {
            "zh-CN": "登录已失效，请重新登录。",
            "en": "Your session has expired; please sign in again.",
        },
        "accounts.invite_invalid": {
            "zh-CN": "邀请码无效或已过期。",
            "en": "The invitation code is invalid or has expired.",
        },
        "accounts.password_weak": {
            "zh-CN": "密码至少需要 10 个字符。",
            "en": "The password must be at least 10 characters.",
        },
        "accounts.phone_invalid": {
            "zh-CN": "手机号格式无效。",
            "en": "The phone number is invalid.",
        },
        "accounts.display_name": {
            "zh-CN": "昵称须为 1 到 50 个字符。",
            "en": "The display name must be 1 to 50 characters.",
        },
        "accounts.phone_taken": {
            "zh-CN": "该手机号已注册，请输入该账号的密码以加入。",
            "en": "This phone number is registered; enter that account's password to join.",
        },
        "accounts.units_invalid": {
            "zh-CN": "房屋不属于该小区。",
            "en": "The units do not belong to this community.",
        },
        "accounts.role_needs_units": {
            "zh-CN": "住户邀请必须指定房屋及身份（业主或租户）。",
            "en": "A resident invitation names its units and whether owner or tenant.",
        },
        "accounts.closed": {"zh-CN": "账号已注销。", "en": "The account is closed."},
    }
)


class BadCredentials(Invalid):
    default_key = "accounts.bad_credentials"


class BadRefreshToken(Invalid):
    default_key = "accounts.bad_refresh"


class InviteInvalid(Invalid):
    default_key = "accounts.invite_invalid"


class PhoneTaken(Conflict):
    default_key = "accounts.phone_taken"
