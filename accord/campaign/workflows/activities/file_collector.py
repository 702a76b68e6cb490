"""File collector: the files of a landing location not yet processed, on local disk, S3, Azure Blob or SFTP,
listed and fetched by the source connectors (their configuration, their checks, their allowed roots).

A file is known by its name, size and last-modified time: it is `collected` by a run, `processed` when that
run succeeds and `refused` when it cannot be loaded; a processed or refused file is not taken again unless it
changes. Hidden files (a writer's partial copies) are never taken. Over the instance's landing storage limit
(`campaign_max_landing_bytes`) the collector refuses to start, naming the bytes waiting: nothing is cut.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator
from sqlalchemy import select

from accord.access import AllowedRoots
from accord.campaign.exceptions import ActivityFailedError, CampaignLimitError
from accord.campaign.models import CollectedFileRecord
from accord.campaign.workflows.spec import Activity, ActivityOptions, ActivityResult, ActivitySpec, Inputs, RunContext
from accord.errors import AccordError

if TYPE_CHECKING:
    from accord.sources import SecretBox

STORES = ("local", "s3", "azure-blob", "sftp")


class FileCollectorOptions(ActivityOptions):
    landing: bool = Field(default=False, description="Watch the instance's own landing folder (`engine.landing`), "
                          "where the CDP's accord-campaign destination drops audiences.")  # fmt: skip
    connector: str = Field(default="local", description=f"The store: {', '.join(STORES)} (a source connector).")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="The connector's configuration, as a source connection takes it (a local `root` must lie "
        "inside the allowed roots).",
    )
    path: str = Field(default="", description="Folder (or key prefix) under the configuration's root.")
    glob: str = Field(default="*.csv", description="Files to take, e.g. `*.csv`; `**` crosses folders.")
    sealed_config: str | None = Field(
        default=None, alias="sealedConfig", description="The configuration's secrets, sealed when it was stored."
    )
    max_files: int = Field(default=100, ge=1, le=10_000, alias="maxFiles", description="Files taken by one run.")

    @field_validator("connector")
    @classmethod
    def _store(cls, value: str) -> str:
        if value not in STORES:
            raise ValueError(f"unknown store {value!r}; stores: {', '.join(STORES)}")
        return value


class FileCollector(Activity[FileCollectorOptions]):
    spec = ActivitySpec(
        name="file-collector",
        description="The new files of a landing location (local, S3, Azure Blob, SFTP), fetched to the run.",
        options=FileCollectorOptions,
        takes="nothing",
        gives="files",
    )

    def stored_options(
        self, given: dict[str, Any], box: Callable[[], SecretBox], roots: AllowedRoots
    ) -> dict[str, Any]:
        from accord.sources import connector_spec, split_spec_secrets, validate_spec_config

        if self.options.landing:
            return given
        spec = connector_spec(self.options.connector)
        sealed = box().open(self.options.sealed_config) if self.options.sealed_config else {}
        model = validate_spec_config(spec, {**self.options.config, **sealed}, roots, "CAMPAIGN-0400-400")
        # split from the checked model, as connections are: a secret given under any spelling of its name
        # (alias or field name) is sealed, never kept in the document
        plain, secrets = split_spec_secrets(spec, model)
        stored = {k: v for k, v in given.items() if k not in ("config", "sealedConfig")}
        return {**stored, "config": plain, **({"sealedConfig": box().seal(secrets)} if secrets else {})}

    def run(self, context: RunContext, inputs: Inputs) -> ActivityResult:
        from accord.sources import FileSelection, SecretBox, connector_class, connector_spec, validate_spec_config

        roots = AllowedRoots.from_settings(context.engine.settings)
        config = {"root": str(context.engine.landing)} if self.options.landing else self.options.config
        if self.options.sealed_config:
            config = {**config, **SecretBox(context.engine.settings.home).open(self.options.sealed_config)}
        if self.options.landing:
            context.engine.landing.mkdir(parents=True, exist_ok=True)
        model = validate_spec_config(connector_spec(self.options.connector), config, roots, "CAMPAIGN-0400-400")
        source = connector_class(self.options.connector)(model, roots)
        selection = FileSelection(path=self.options.path, glob=self.options.glob)
        try:
            listed = sorted(source.list_files(selection), key=lambda f: (f.modified, f.name))  # type: ignore[attr-defined]
        except AccordError:
            raise
        except Exception as exc:  # a store's client error: said as ours, never as a trace
            raise ActivityFailedError(context.activity, f"listing the files failed: {type(exc).__name__}") from exc
        done = self._done(context)
        waiting = [f for f in listed if (f.name, f.size, f.modified) not in done]
        limit = int(context.engine.settings.campaign_max_landing_bytes)
        if sum(f.size for f in waiting) > limit:
            raise CampaignLimitError(f"{sum(f.size for f in waiting)} bytes of files wait in the landing location, "
                                     f"more than the instance's {limit} (setting campaign_max_landing_bytes): "
                                     "nothing was collected", waiting=len(waiting), limit=limit)  # fmt: skip
        taken = waiting[: self.options.max_files]
        files = []
        for file in taken:
            try:
                path = source.fetch(selection, file, context.workdir)  # type: ignore[attr-defined]
            except AccordError:
                raise
            except Exception as exc:
                raise ActivityFailedError(context.activity, f"fetching {file.name} failed: {type(exc).__name__}",
                                          file=file.name) from exc  # fmt: skip
            files.append({"name": file.name, "path": str(path), "size": file.size, "modified": file.modified})
        self._record(context, files)
        return ActivityResult({"listed": len(listed), "collected": len(files), "left": len(waiting) - len(files)},
                              {"files": files})  # fmt: skip

    def _done(self, context: RunContext) -> set[tuple[str, int, int]]:
        with context.engine.database.session() as session:
            rows = session.execute(
                select(CollectedFileRecord.name, CollectedFileRecord.size, CollectedFileRecord.modified).where(
                    CollectedFileRecord.workflow_id == context.workflow_id,
                    CollectedFileRecord.activity == context.activity,
                    CollectedFileRecord.status.in_(("processed", "refused")),
                )
            )
            return {(name, size, modified) for name, size, modified in rows}

    def _record(self, context: RunContext, files: list[dict[str, Any]]) -> None:
        with context.engine.database.session() as session:
            for file in files:
                record = CollectedFileRecord(workflow_id=context.workflow_id, activity=context.activity,
                                             name=file["name"], size=file["size"], modified=file["modified"],
                                             run_id=context.run_id, status="collected")  # fmt: skip
                session.add(record)
                session.flush()
                file["collected"] = record.id
