"""Labels on data as the catalog keeps them: the fields of a dataset that labels may be put on."""

from __future__ import annotations

import pytest

from accord import governance
from accord.errors import NotFoundError
from accord.workspace import Workspace
from tests.conftest import Api, setup_crm


def test_a_dataset_offers_every_field_of_its_schema_objects_included(api: Api, workspace: Workspace) -> None:
    setup_crm(api)
    with workspace.catalog.session() as session:
        fields = governance.dataset_fields(session, "prod", "crm")
        assert fields == sorted(fields) and len(fields) == len(set(fields))
        assert {"personalEmail", "personalEmail.address", "homeAddress", "homeAddress.city"} <= set(fields)
        assert fields.index("homeAddress") < fields.index("homeAddress.city")
        for field in ("personalEmail.address", "homeAddress"):  # each one is a field labels may be put on
            governance.add_labels(session, "prod", "crm", ["C2"], field)
        with pytest.raises(NotFoundError, match=r"no dataset 'crn'.*crm"):
            governance.dataset_fields(session, "prod", "crn")
