"""Shopping together. A payer says "+N" in the app (before walking in, or while inside);
shoppers the entry gate recognises within a few seconds of the payer join as companions, and
faces it cannot name in that moment count as guests. Whatever a companion takes lands on
the payer's cart and receipt; each companion still has their own visit, shown live.

Nobody pays for a stranger: without the payer's announcement the gate never groups people
who happen to walk in together."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from store.errors import Conflict, DomainError
from store.models import Device, GroupMember, Shopper, ShoppingGroup, Visit, VisitStatus
from store.services import live


def _window() -> timedelta:
    return timedelta(seconds=settings.MINIGO["GROUP_WINDOW_S"])


def group_payload(*, group: ShoppingGroup) -> dict[str, Any]:
    members = list(group.members.select_related("visit__shopper"))
    return {
        "group": group.pk,
        "payer": group.payer_id,
        "payer_name": group.payer.display_name,
        "payer_visit": group.payer_visit_id,
        "announced": group.announced,
        "members": [
            {
                "visit": m.visit_id,
                "shopper": m.visit.shopper_id,
                "name": m.visit.shopper.display_name,
            }
            for m in members
        ],
        "guests": group.guests,
        "free": _free(group, len(members)),
        "expires_at": group.expires_at.isoformat(),
    }


def _free(group: ShoppingGroup, members: int | None = None) -> int:
    if members is None:
        members = group.members.count()
    return max(0, group.announced - members - group.guests)


def _push(group: ShoppingGroup) -> None:
    payload = group_payload(group=group)
    live.to_shopper(group.payer_id, "group", payload)
    # Companions' phones learn whose receipt their picks go on.
    for member in payload["members"]:
        live.to_shopper(member["shopper"], "group", payload)
    live.to_managers("group", payload)


def group_current(*, shopper: Shopper) -> ShoppingGroup | None:
    """The shopper's group as payer: the one of their open visit, or an announcement that has
    not lapsed yet."""
    now = timezone.now()
    return (
        ShoppingGroup.objects.filter(payer=shopper)
        .filter(
            Q(payer_visit__status=VisitStatus.OPEN)
            | Q(payer_visit__isnull=True, expires_at__gte=now)
        )
        .order_by("-announced_at")
        .first()
    )


def group_announce(*, shopper: Shopper, companions: int) -> ShoppingGroup:
    """The payer's "+N". Before walking in it waits for the payer's entry (up to the TTL);
    inside, companions recognised at the gate within the window from now join."""
    limit = settings.MINIGO["GROUP_MAX_COMPANIONS"]
    if not isinstance(companions, int) or isinstance(companions, bool):
        raise DomainError("bad_companions", "say how many people come with you")
    if not 0 <= companions <= limit:
        raise DomainError("bad_companions", f"between 0 and {limit} companions")
    if GroupMember.objects.filter(visit__shopper=shopper, visit__status=VisitStatus.OPEN).exists():
        raise Conflict("already_companion", "you are in someone else's group")
    now = timezone.now()
    with transaction.atomic():
        group = group_current(shopper=shopper)
        if group is not None:
            group = ShoppingGroup.objects.select_for_update().get(pk=group.pk)
            taken = group.members.count() + group.guests
            if companions < taken:
                raise Conflict("companions_already_in", f"{taken} companions are already in")
            group.announced = companions
            # Inside the store, "+N" opens the gate window again from now.
            group.announced_at = now
            group.expires_at = now + timedelta(seconds=settings.MINIGO["GROUP_ANNOUNCE_TTL_S"])
            group.save(update_fields=["announced", "announced_at", "expires_at"])
        else:
            if companions == 0:
                raise DomainError("bad_companions", "nobody announced")
            visit = Visit.objects.filter(shopper=shopper, status=VisitStatus.OPEN).first()
            group = ShoppingGroup.objects.create(
                payer=shopper,
                payer_visit=visit,
                announced=companions,
                announced_at=now,
                expires_at=now + timedelta(seconds=settings.MINIGO["GROUP_ANNOUNCE_TTL_S"]),
            )
        _push(group)
    return group


def _gap(group: ShoppingGroup, at: datetime) -> float:
    """Seconds between `at` and the payer passing the gate, or the payer's "+N" if they said
    it once inside."""
    gaps = [abs((at - group.payer_visit.entered_at).total_seconds())]
    if group.announced_at > group.payer_visit.entered_at:
        gaps.append(abs((at - group.announced_at).total_seconds()))
    return min(gaps)


def group_for_entrant(
    *, shopper: Shopper | None, device: Device | None, at: datetime
) -> ShoppingGroup | None:
    """The group someone walking in at `at` joins (`shopper` None: a face nobody knows): a
    payer of an open group passed the same gate within the window and has a free place."""
    window = _window()
    groups = ShoppingGroup.objects.filter(
        payer_visit__status=VisitStatus.OPEN, payer_visit__entry_device=device
    ).select_related("payer_visit", "payer")
    if shopper is not None:
        groups = groups.exclude(payer=shopper)
    best = None
    for group in groups:
        gap = _gap(group, at)
        places = _free(group) + (group.guests if shopper is not None else 0)
        if gap <= window.total_seconds() and (places > 0 or shopper is None):
            if best is None or gap < best[0]:
                best = (gap, group)
    return best[1] if best else None


def group_join(*, group: ShoppingGroup, visit: Visit, at: datetime) -> GroupMember | None:
    """Add a companion's visit to the group if a place is still free (locked: two companions
    racing for the last place cannot both get it)."""
    with transaction.atomic():
        locked = ShoppingGroup.objects.select_for_update().get(pk=group.pk)
        if GroupMember.objects.filter(visit=visit).exists():
            return None
        if _free(locked) <= 0:
            if locked.guests == 0:
                return None
            # A "guest" was this companion in a frame where the gate could not name them.
            locked.guests -= 1
            locked.save(update_fields=["guests"])
        member = GroupMember.objects.create(group=locked, visit=visit, joined_at=at)
        _push(locked)
    return member


def group_bind_payer(*, visit: Visit, at: datetime) -> tuple[ShoppingGroup | None, list[Visit]]:
    """The payer just walked in: their waiting announcement belongs to this visit now, and
    companions the gate let in a moment before them (frames are processed in any order) join.
    Returns the group and the companions' visits that joined."""
    now = timezone.now()
    with transaction.atomic():
        group = (
            ShoppingGroup.objects.select_for_update()
            .filter(payer=visit.shopper, payer_visit__isnull=True, expires_at__gte=min(at, now))
            .order_by("-announced_at")
            .first()
        )
        if group is None:
            return None, []
        group.payer_visit = visit
        group.save(update_fields=["payer_visit"])
        earlier = (
            Visit.objects.filter(
                status=VisitStatus.OPEN,
                entry_device=visit.entry_device,
                entered_at__gte=at - _window(),
                entered_at__lte=at,
                group_membership__isnull=True,
                group__isnull=True,
            )
            .exclude(pk=visit.pk)
            .order_by("-entered_at")
        )
        joined = []
        for companion in earlier[: _free(group)]:
            GroupMember.objects.create(group=group, visit=companion, joined_at=at)
            joined.append(companion)
        _push(group)
    return group, joined


def group_guests_seen(*, device: Device, at: datetime, count: int) -> int:
    """Faces the entry gate could not name, `count` of them in one frame: within the window of
    a payer with places left they are that payer's guests. A gate sends many frames of the
    same people walking in, so the guests are the most seen in one frame, not the sum.
    Returns the group's guests after this frame (0 when no group was in the window)."""
    if count <= 0:
        return 0
    group = group_for_entrant(shopper=None, device=device, at=at)
    if group is None:
        return 0
    with transaction.atomic():
        locked = ShoppingGroup.objects.select_for_update().get(pk=group.pk)
        seen = min(count, _free(locked) + locked.guests)
        if seen > locked.guests:
            locked.guests = seen
            locked.save(update_fields=["guests"])
            _push(locked)
    return locked.guests


def group_cart_visit(*, visit: Visit, at: datetime | None = None) -> Visit:
    """Where a pick by this visit's shopper goes: the payer's visit if the payer was still in
    the store when it happened (`at`; late evidence amends the payer's receipt), else the
    shopper's own (a companion still inside after the payer left keeps shopping, still on
    the payer's account)."""
    member = (
        GroupMember.objects.filter(visit_id=visit.pk).select_related("group__payer_visit").first()
    )
    if member is None or member.group.payer_visit is None:
        return visit
    payer_visit = member.group.payer_visit
    if payer_visit.status == VisitStatus.OPEN:
        return payer_visit
    left = payer_visit.exited_at
    return payer_visit if at is not None and left is not None and at <= left else visit


def group_payer_of(*, visit: Visit) -> Shopper | None:
    member = GroupMember.objects.filter(visit_id=visit.pk).select_related("group__payer").first()
    return member.group.payer if member else None


def group_label(*, visit: Visit) -> dict[str, Any] | None:
    """For the live page: a payer's companions and guests, or whose companion this is."""
    member = GroupMember.objects.filter(visit_id=visit.pk).select_related("group__payer").first()
    if member is not None:
        return {"role": "companion", "payer": member.group.payer.display_name}
    group = ShoppingGroup.objects.filter(payer_visit_id=visit.pk).first()
    if group is not None:
        names = [
            m.visit.shopper.display_name for m in group.members.select_related("visit__shopper")
        ]
        return {"role": "payer", "companions": names, "guests": group.guests}
    return None
