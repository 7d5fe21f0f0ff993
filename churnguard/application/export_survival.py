"""Use-case: export the champion's survival model so a warehouse scores time to churn itself."""

from __future__ import annotations

from churnguard.application.champion import ChampionCache
from churnguard.application.errors import InvalidOptions
from churnguard.application.ports import WarehouseExporter


class ExportSurvivalSql:
    def __init__(self, champion: ChampionCache, exporter: WarehouseExporter) -> None:
        self._champion = champion
        self._exporter = exporter

    def __call__(self, customers: str, out: str) -> list[str]:
        """Write the champion's Cox model as tables and one query over the table `customers`
        into the directory `out`; the files written, each whole or not at all."""
        champion = self._champion.current()
        survival = champion.survival
        if survival is None:
            raise InvalidOptions(
                f"the champion {champion.version.short_id} forecasts no time to churn: its schema "
                f"({champion.schema.name!r}) declares no survival key"
            )
        return self._exporter.export(survival, champion.version, customers, out)
