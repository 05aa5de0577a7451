"""Payments: the Payment node and the payload helper that payment mutations share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core import i18n
from domain.payments import models as m
from domain.payments import service
from resolvers.context import Context, Info
from resolvers.loaders import loader
from resolvers.node import loader_fetcher, node_type
from resolvers.roots import extra_types
from schema import payments as t
from schema.base import ErrorCode, UserError


@loader("payment")
async def load_payments(ctx: Context, ids: list[int]) -> list[t.Payment | None]:
    async with ctx.reading() as s:
        rows = await service.payments_by_ids(s, ctx.principal, ids)
    uid = ctx.principal.user_id
    return [t.Payment.from_row(rows[i], viewer_id=uid) if i in rows else None for i in ids]


node_type("Payment")(loader_fetcher("payment"))
extra_types(t.Payment)


def payment_payload(info: Info) -> Callable[..., t.PaymentPayload]:
    """The `payload` for run_mutation when `work` returns {"payment": <Payment row>}.

    It is called after the commit, when the PaymentIntent has been created (after-commit
    work), so the payload carries the client secret; a payment the provider refused
    comes back FAILED with a PAYMENT_FAILED userError.
    """
    ctx: Context = info.context

    def build(
        *, user_errors: list[UserError], payment: m.Payment | None = None
    ) -> t.PaymentPayload:
        if payment is None:
            return t.PaymentPayload(payment=None, user_errors=user_errors)
        errors = list(user_errors)
        if payment.status == m.PaymentStatus.FAILED:
            errors.append(
                UserError(
                    code=ErrorCode.PAYMENT_FAILED,
                    field=None,
                    message=i18n.translate("payments.failed", ctx.locale),
                )
            )
        return t.PaymentPayload(
            payment=t.Payment.from_row(payment, viewer_id=ctx.principal.user_id),
            user_errors=errors,
        )

    return build


__all__: list[Any] = ["payment_payload"]
