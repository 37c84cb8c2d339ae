"""Progress of a batch run: a tqdm bar on a terminal, plain ``[fishpond] ...`` lines otherwise."""

from __future__ import annotations

import sys


class Progress:
    """A tqdm bar on a terminal, plain ``[fishpond] ...`` log lines otherwise."""

    def __init__(self, total: int, stream=None):
        self.stream = stream or sys.stderr
        self.bar = None
        if total and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="notebook", file=self.stream, desc="fishpond")

    def log(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(f"[fishpond] {text}", file=self.stream)
        else:
            print(f"[fishpond] {text}", file=self.stream, flush=True)

    def done(self, entry: dict) -> None:
        detail = f" ({entry['error']})" if entry.get("error") else ""
        self.log(f"{entry['notebook']} {entry['status']} {entry['duration_seconds']:.1f}s{detail}")
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
