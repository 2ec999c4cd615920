"""Letting a recognised shopper in: is someone paying (their own account, or the payer of
the group they walk in with), then the visit, its payment authorisation and the group.
A refusal opens no visit; the gate's screen and the shopper's phone say why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.utils import timezone

from store.models import Device, Shopper, Visit, VisitStatus
from store.services import live
from store.services.groups import group_bind_payer, group_for_entrant, group_join
from store.services.payments import payment_authorise, payment_open, payment_set_payer
from store.services.visits import visit_close, visit_current, visit_open

REFUSAL_QUIET_S = 20
# The entry camera watches people walking in; one passage gives it frames for a few seconds.
# Someone it sees walking in this long after their visit opened, and not seen at a shelf just
# before, went out unseen (the exit camera missed every frame of them) and is coming back.
REENTRY_AFTER_S = 15.0
REENTRY_UNSEEN_S = 3.0


@dataclass(frozen=True)
class Admission:
    outcome: str  # visit_opened, already_in, refused
    visit: Visit | None = None
    code: str = ""
    reason: str = ""
    payer: Shopper | None = None
    # False for a refusal already told a moment ago (the gate need not say it again).
    announce: bool = True


def entry_admit(
    *, shopper: Shopper, device: Device | None, method: str, at: datetime | None = None
) -> Admission:
    at = at or timezone.now()
    existing = visit_current(shopper=shopper)
    if existing is None or existing.entered_at > at:
        # Only then can the frame be a late one of a visit already known (most entry frames
        # are the next frames of the passage of a visit open since a moment ago).
        known = _visit_of_passage(shopper=shopper, at=at)
        if known is not None:
            return Admission("already_in", known)
    if existing is not None:
        if not _came_back(existing, at):
            return Admission("already_in", existing)
        # Their first visit ends as they come back in: its receipt has everything they took
        # until then, and the new visit starts empty.
        visit_close(visit=existing, at=at - timedelta(seconds=1))
    group = group_for_entrant(shopper=shopper, device=device, at=at)
    payer = group.payer if group is not None else shopper
    authorisation = payment_authorise(payer=payer)
    if not authorisation.ok:
        # A gate sends a dozen frames of one person walking up: say it once, not a dozen times.
        if not cache.add(f"minigo:entry-refused:{shopper.pk}", 1, timeout=REFUSAL_QUIET_S):
            return Admission(
                "refused", None, authorisation.code, authorisation.reason, payer, False
            )
        where = {"device": device.device_id if device else None, "at": at.isoformat()}
        live.to_shopper(
            shopper.pk,
            "entry_refused",
            {"code": authorisation.code, "reason": authorisation.reason, **where},
        )
        live.to_managers(
            "entry_refused",
            {
                "shopper": shopper.pk,
                "name": shopper.display_name,
                "code": authorisation.code,
                "reason": authorisation.reason,
                **where,
            },
        )
        return Admission("refused", None, authorisation.code, authorisation.reason, payer)
    visit, created = visit_open(shopper=shopper, device=device, method=method, at=at)
    if not created:
        return Admission("already_in", visit)
    payment_open(visit=visit, payer=payer, authorisation=authorisation)
    if group is not None:
        if group_join(group=group, visit=visit, at=at) is None:
            # The last place went to someone else a moment ago: they pay for themselves.
            payment_set_payer(visit=visit, payer=shopper)
            payer = shopper
    else:
        _, companions = group_bind_payer(visit=visit, at=at)
        for companion in companions:
            payment_set_payer(visit=companion, payer=shopper)
    return Admission("visit_opened", visit, payer=payer)


def _visit_of_passage(*, shopper: Shopper, at: datetime) -> Visit | None:
    """The visit an entry frame captured at `at` belongs to when the gate's agent sent it late
    (it was offline) and the store already knows that visit: one in progress at `at` that has
    ended since, or their next one, begun after `at` with no exit of theirs in between (a
    shelf camera saw them inside first, or a later frame of this passage came in first). A
    visit opened at a shelf starts at this frame instead. None when the frame is news."""
    ended = (
        Visit.objects.filter(shopper=shopper, entered_at__lte=at, exited_at__gte=at)
        .order_by("-entered_at")
        .first()
    )
    if ended is not None:
        return ended
    later = Visit.objects.filter(shopper=shopper, entered_at__gt=at).order_by("entered_at").first()
    if later is None:
        return None
    between = Visit.objects.filter(
        shopper=shopper, exited_at__gte=at, exited_at__lt=later.entered_at
    )
    if between.exists():
        return None
    if later.status == VisitStatus.OPEN and later.entry_method == "shelf":
        _starts_by(later, at)
    return later


def _starts_by(visit: Visit, at: datetime) -> None:
    """A visit opened at a shelf starts by `at` (a frame of the shopper inside, or walking in,
    that came late). Moved back only, in SQL: frames applied in any order leave the earliest."""
    Visit.objects.filter(pk=visit.pk, entered_at__gt=at).update(entered_at=at)
    visit.refresh_from_db(fields=["entered_at"])


def _came_back(visit: Visit, at: datetime) -> bool:
    if at - visit.entered_at < timedelta(seconds=REENTRY_AFTER_S):
        return False
    seen = visit.last_seen_at
    return seen is None or at - seen >= timedelta(seconds=REENTRY_UNSEEN_S)


def entry_seen_inside(*, shopper: Shopper, device: Device, at: datetime) -> Visit | None:
    """A consenting shopper clearly seen at a shelf while no visit of theirs is open: the
    entry camera missed every frame of them walking in. Their visit opens then and there (entry
    method "shelf", the shelf as its entry device), when their account lets them shop; None
    when it does not (a shelf has no screen to say why), or when their last visit ended a
    moment ago (a shelf frame stamped just after they passed the exit is not a new visit).
    A visit opened this way starts at the earliest such frame, also one a shelf delivers late
    (it was offline): the shopper was inside then, and their picks there are theirs."""
    last = Visit.objects.filter(shopper=shopper).order_by("-entered_at").first()
    if last is not None and last.exited_at is None and last.entered_at > at:
        earlier = Visit.objects.filter(shopper=shopper, exited_at__isnull=False)
        left = earlier.order_by("-exited_at").values_list("exited_at", flat=True).first()
        if last.entry_method == "shelf" and (
            left is None or at - left >= timedelta(seconds=REENTRY_AFTER_S)
        ):
            _starts_by(last, at)
        return last
    if last is not None and last.exited_at is not None:
        if at - last.exited_at < timedelta(seconds=REENTRY_AFTER_S):
            return None
    authorisation = payment_authorise(payer=shopper)
    if not authorisation.ok:
        return None
    visit, created = visit_open(shopper=shopper, device=device, method="shelf", at=at)
    if created:
        payment_open(visit=visit, payer=shopper, authorisation=authorisation)
    return visit
