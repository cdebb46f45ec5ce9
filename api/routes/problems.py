"""Each problem ``type`` URI resolves here to its description."""

from __future__ import annotations

from fastapi import APIRouter

from api.problems import PROBLEM_RESPONSES, PROBLEM_TYPES, ProblemType
from core.errors import NotFoundError

router = APIRouter(prefix="/problems", tags=["operations"])


@router.get("", summary="Every problem type Yatri returns")
async def list_problem_types() -> list[ProblemType]:
    return list(PROBLEM_TYPES.values())


@router.get("/{slug}", summary="One problem type", responses=PROBLEM_RESPONSES)
async def problem_type(slug: str) -> ProblemType:
    found = PROBLEM_TYPES.get(slug)
    if found is None:
        raise NotFoundError(f"no problem type {slug!r}")
    return found
