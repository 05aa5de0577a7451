"""The scheduler runs every registered job (see api.jobs) in the app lifespan."""

from __future__ import annotations

from api.app import AppState, Component, add_components
from api.jobs import Scheduler


@add_components
def scheduler_component(state: AppState) -> list[Component]:
    return [Scheduler()]
