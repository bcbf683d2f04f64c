"""Progress on stderr: Rich bars with bytes, counts and rates, one line per phase of an
import (reading, writing, saving… or uploading, processing)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from app.cli.output import console


def _si(n: float) -> str:
    """1234567 -> 1.23M: counts in progress lines (the summary has them exactly)."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return f"{n:.0f}"


class _Amount(ProgressColumn):
    """Bytes like a download, numbers counted; nothing for a phase without a measure."""

    def __init__(self) -> None:
        super().__init__()
        self._bytes = DownloadColumn()

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit")
        if unit == "bytes":
            return self._bytes.render(task)
        if unit is None:
            return Text("")
        total = f"/{_si(task.total)}" if task.total is not None else ""
        return Text(f"{_si(task.completed)}{total} {unit}", style="progress.download")


class _Rate(ProgressColumn):
    def __init__(self) -> None:
        super().__init__()
        self._bytes = TransferSpeedColumn()

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit")
        if unit == "bytes":
            return self._bytes.render(task)
        speed = task.finished_speed or task.speed
        if unit is None or not speed:
            return Text("")
        return Text(f"{_si(speed)}/s", style="progress.data.speed")


class _Lines(ProgressColumn):
    def render(self, task: Task) -> Text:
        lines = task.fields.get("lines")
        return Text("" if lines is None else f"{_si(lines)} lines", style="progress.description")


def progress_bars() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<10}"), BarColumn(bar_width=20), _Amount(), _Rate(),
        _Lines(), TimeElapsedColumn(), TimeRemainingColumn(), console=console,
    )


class Phases:
    """One progress line per phase of the import; the current one is live.

    Locally, the importer (``app.bloctel.importer``, ``app.registries.bulk``) calls it
    (``bytes_read``, ``lines_read``, ``phase``, ``advance``); remotely, the upload does
    (``phase("uploading")``, ``bytes_read``).
    """

    def __init__(self, bars: Progress | None, size: int) -> None:
        self._bars, self._size = bars, size
        self._task: TaskID | None = None
        self._total: int | None = None
        self._done = 0

    def _end(self) -> None:
        if self._bars is None or self._task is None:
            return
        total = 1 if self._total is None else max(self._total, self._done)
        self._bars.update(self._task, total=total, completed=total)
        self._task = None

    def phase(self, name: str, total: int | None = None) -> None:
        self._end()
        unit: str | None = None
        if name in ("reading", "uploading"):
            unit, total = "bytes", self._size
        elif name == "writing":
            unit = "numbers"
        elif name == "saving":
            unit = "rows"
        self._total, self._done = total, 0
        if self._bars is not None:
            self._task = self._bars.add_task(
                name, total=total, unit=unit, lines=0 if name == "reading" else None)

    def bytes_read(self, n: int) -> None:
        self._step(n)

    def advance(self, n: int) -> None:
        self._step(n)

    def _step(self, n: int) -> None:
        self._done += n
        if self._bars is not None and self._task is not None:
            self._bars.advance(self._task, n)

    def lines_read(self, total: int) -> None:
        if self._bars is not None and self._task is not None:
            self._bars.update(self._task, lines=total)

    def close(self, ok: bool) -> None:
        if self._bars is None or self._task is None:
            return
        if ok:
            self._end()
        else:  # refused or failed: this phase's line stays where it stopped
            if self._total is None:
                self._bars.update(self._task, total=1, completed=0)
            self._bars.stop_task(self._task)
            self._task = None


@contextlib.contextmanager
def phases(show: bool, size: int) -> Iterator[Phases]:
    if not show:
        yield Phases(None, size)
        return
    with progress_bars() as bars:
        live = Phases(bars, size)
        try:
            yield live
        except BaseException:
            live.close(ok=False)
            raise
        live.close(ok=True)


def upload_chunks(file: Path, phases: Phases) -> Iterator[bytes]:
    """The file in 1 MiB chunks for an httpx upload (never whole in memory), with progress;
    then the "processing" phase while the server works."""
    phases.phase("uploading")
    with file.open("rb") as f:
        while data := f.read(1 << 20):
            phases.bytes_read(len(data))
            yield data
    phases.phase("processing")
