"""The demo's governance: a marketer with a role of her own sandbox, labels on the CRM's e-mail field, a core
policy enabled, and an activation that would break it refused with its lineage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from accord import access, destinations, governance

PARTNER_FLOW = {
    "audiences": [{"segment": "opted-in newsletter readers"}],
    "mapping": [{"source": "personalEmail.address", "target": "email"}],
    "marketingActions": ["exportToThirdParty"],
}
"""A flow that would hand e-mail addresses to a partner: what a contract label forbids."""


def govern(workspace: Any, say: Callable[[str], None]) -> dict[str, Any]:
    catalog = workspace.catalog
    access.create_user(catalog, "maria", email="maria@example.com")
    access.grant_role(catalog, "marketer", "maria", "prod")
    _record, token = access.create_token(catalog, "maria-laptop", user="maria", expires=access.parse_expiry("30d"))
    maria = access.authenticate(catalog, token)
    with catalog.session() as session:
        labelled = governance.add_labels(session, "prod", "crm", ["I1", "C2"], "personalEmail.address")
        governance.set_policy_enabled(session, "prod", "core-export-to-third-party", True)
    try:
        with catalog.session() as session:
            destinations.create_flow(session, "prod", "to-partner", "outbox", PARTNER_FLOW)
        refused: dict[str, Any] | None = None
    except governance.PolicyViolationError as exc:
        refused = exc.violations[0].to_dict()
    assert refused is not None, "the policy let the flow through"
    held = sorted(p.value for p in maria.permissions_in("prod"))
    say(f"16. governance: user maria holds the marketer role in prod ({len(held)} permissions, e.g. "
        f"{', '.join(held[:3])}); the CRM's e-mail field is labelled I1 and C2; with the core policy "
        f"{refused['policy']!r} enabled, a flow exporting it to a third party is refused: "
        f"{' -> '.join(refused['lineage'][0])}")  # fmt: skip
    return {"user": "maria", "permissions": held, "labels": labelled, "refused": refused}
