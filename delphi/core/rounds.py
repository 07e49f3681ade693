"""The round engine: which items a round asks, written down as its manifest."""

from __future__ import annotations

from collections.abc import Collection

from delphi.core.models import (
    ItemBank,
    Manifest,
    ManifestItem,
    ManifestSection,
    Roster,
    Settings,
)


def build_manifest(settings: Settings, bank: ItemBank, roster: Roster, round_no: int,
                   exclude: Collection[str] = ()) -> Manifest:
    """The manifest of round ``round_no``: items asked, in bank order, and invited codes.

    An item is asked when its section is asked in that round, it was introduced in or before
    that round, and it is not in ``exclude`` (items that reached consensus earlier, say). Its
    text is the wording in force in that round. Every panellist on the roster is invited.
    """
    sections: list[ManifestSection] = []
    items: list[ManifestItem] = []
    for section in bank.sections:
        if not section.asked_in(round_no):
            continue
        asked = [i for i in section.items if i.introduced <= round_no and i.id not in exclude]
        if not asked:
            continue
        sections.append(ManifestSection(
            id=section.id, title=section.title, kind=section.kind, intro=section.intro,
            anchors=dict(section.anchors or settings.anchors)))
        for item in asked:
            text = item.text_in(round_no)
            items.append(ManifestItem(
                id=item.id, section=section.id, kind=section.kind, text=text,
                hash=ManifestItem.hash_of(item.id, section.id, section.kind, text)))
    invited = [p.code for p in roster.panellists]
    return Manifest(study=settings.title, round=round_no, sections=sections, items=items,
                    invited=invited,
                    hash=Manifest.hash_of(round_no, sections, items, invited))
