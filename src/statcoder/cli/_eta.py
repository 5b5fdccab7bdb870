"""A rich progress column whose ETA is honest: only for tasks of many alike steps."""

from __future__ import annotations

from rich.progress import ProgressColumn, Task
from rich.text import Text


class StageEtaColumn(ProgressColumn):
    """Remaining time of this task from its own rate; blank for tasks of fewer than 3 steps
    (unequal steps such as "final model" would make any extrapolation a guess)."""

    def render(self, task: Task) -> Text:
        if task.total is None or task.total < 3 or task.finished or not task.completed or (task.elapsed or 0) < 5:
            return Text("")
        remaining = task.time_remaining
        if remaining is None:
            return Text("")
        minutes, seconds = divmod(int(remaining), 60)
        hours, minutes = divmod(minutes, 60)
        clock = f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
        return Text(f"about {clock} left", style="progress.remaining")
