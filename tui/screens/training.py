"""Personal fine-tuning: the nightly schedule, training runs with their loss curves, and
adapters to activate or roll back. Until the daemon has a training API, an empty state
says so; the sections are here, hidden, ready for the data."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Sparkline, Static, Switch

from cove.tui import training
from cove.tui.training import TrainingState
from cove.tui.widgets.status_bar import StatusBar
from cove.tui.work import api_worker, cove_app

DAEMON_DOWN = "The daemon is not running: training state comes from it."


def _number(value: float | int | None) -> str:
    return "" if value is None else f"{value:g}"


class TrainingScreen(Screen[None]):
    CSS_PATH = "training.tcss"
    BINDINGS = [
        Binding(
            "t",
            "toggle_schedule",
            "Schedule",
            tooltip="Turn nightly training on or off",
            id="training.schedule",
        ),
        Binding(
            "a",
            "activate",
            "Activate",
            tooltip="Serve answers with the selected adapter",
            id="training.activate",
        ),
        Binding(
            "b",
            "rollback",
            "Roll back",
            tooltip="Go back to the previous adapter",
            id="training.rollback",
        ),
        Binding("r", "reload", "Reload", tooltip="Fetch the training state", id="training.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state: TrainingState | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar("Training")
        with VerticalScroll(id="training", classes="-unavailable"):
            empty = Static("Loading…", id="empty", markup=False)
            empty.border_title = "Training"
            yield empty
            with Vertical(id="schedule-section", classes="data"):
                yield Label("Schedule", classes="section")
                with Horizontal(id="schedule-row"):
                    yield Switch(id="schedule-on")
                    yield Label("", id="schedule-text", markup=False)
            with Vertical(id="runs-section", classes="data"):
                yield Label("Runs", classes="section")
                yield DataTable(id="runs", cursor_type="row")
                yield Label("Loss, selected run", classes="section")
                yield Sparkline([], id="loss")
            with Vertical(id="adapters-section", classes="data"):
                yield Label("Adapters", classes="section")
                yield DataTable(id="adapters", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#runs", DataTable).add_columns(
            "Run", "Started", "Status", "Examples", "Eval", "Adapter"
        )
        self.query_one("#adapters", DataTable).add_columns("Adapter", "Created", "Active")
        self.watch(self.app, "daemon", self._daemon_changed)

    def _daemon_changed(self, state: str) -> None:
        if state == "up" and self.is_current:
            self.action_reload()
        elif state == "down":
            self.show(None, DAEMON_DOWN)

    def on_screen_resume(self) -> None:
        if cove_app(self).daemon == "up":
            self.action_reload()

    def action_reload(self) -> None:
        """Fetch the training state from the daemon."""
        api_worker(
            self,
            training.fetch_training_state,
            self.show,
            what="Loading training",
            group="training",
            exclusive=True,
        )

    def show(self, state: TrainingState | None, reason: str = "") -> None:
        """Fill the sections, or the empty state with the reason there is no data."""
        self.state = state
        available = state is not None and state.available
        box = self.query_one("#training")
        box.set_class(available, "-available")
        box.set_class(not available, "-unavailable")
        self.refresh_bindings()
        if not available:
            self.query_one("#empty", Static).update(state.reason if state else reason)
            return
        self._show_schedule(state)
        self._show_runs(state)
        self._show_adapters(state)

    def _show_schedule(self, state: TrainingState) -> None:
        schedule = state.schedule
        switch = self.query_one("#schedule-on", Switch)
        with switch.prevent(Switch.Changed):
            switch.value = bool(schedule and schedule.enabled)
        if schedule is None:
            text = "no schedule"
        else:
            text = f"nightly at {schedule.time} · last run {schedule.last_run or 'never'}"
            text += f" · next {schedule.next_run or '-'}"
        self.query_one("#schedule-text", Label).update(text)

    def _show_runs(self, state: TrainingState) -> None:
        table = self.query_one("#runs", DataTable)
        table.clear()
        for run in state.runs:
            table.add_row(
                run.id,
                run.started_at,
                run.status,
                _number(run.examples),
                _number(run.eval_score),
                run.adapter or "",
                key=run.id,
            )
        last = state.runs[-1] if state.runs else None
        self.query_one("#loss", Sparkline).data = list(last.losses) if last else []

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "runs" or self.state is None:
            return
        runs = {run.id: run for run in self.state.runs}
        run = runs.get(str(event.row_key.value))
        self.query_one("#loss", Sparkline).data = list(run.losses) if run else []

    def _show_adapters(self, state: TrainingState) -> None:
        table = self.query_one("#adapters", DataTable)
        table.clear()
        for adapter in state.adapters:
            mark = "active" if adapter.active else ""
            table.add_row(adapter.name, adapter.created_at, mark, key=adapter.name)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_schedule", "activate", "rollback"):
            # Hidden until there is training to act on.
            return self.state is not None and self.state.available
        return True

    def action_toggle_schedule(self) -> None:
        """Turn the nightly training run on or off."""
        switch = self.query_one("#schedule-on", Switch)
        switch.value = not switch.value

    def on_switch_changed(self, event: Switch.Changed) -> None:
        schedule = self.state.schedule if self.state else None
        time = schedule.time if schedule else "02:00"
        api_worker(
            self,
            lambda client: training.set_schedule(client, event.value, time),
            lambda _: self.action_reload(),
            what="Changing the schedule",
        )

    def action_activate(self) -> None:
        """Serve answers with the selected adapter."""
        table = self.query_one("#adapters", DataTable)
        if table.row_count == 0:
            self.notify("No adapters yet.", severity="warning")
            return
        name = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        api_worker(
            self,
            lambda client: training.activate_adapter(client, name),
            lambda _: self.action_reload(),
            what="Activating the adapter",
        )

    def action_rollback(self) -> None:
        """Go back to the adapter that was active before."""
        api_worker(
            self,
            training.rollback_adapter,
            lambda _: self.action_reload(),
            what="Rolling back",
        )

    def commands(self) -> Iterable[SystemCommand]:
        """The training screen's actions for the command palette."""
        run = self.run_action
        yield SystemCommand("Reload training", "Fetch the training state", partial(run, "reload"))
        if self.state is not None and self.state.available:
            yield SystemCommand(
                "Schedule on/off",
                "Turn nightly training on or off",
                partial(run, "toggle_schedule"),
            )
            yield SystemCommand(
                "Activate adapter", "Serve with the selected adapter", partial(run, "activate")
            )
            yield SystemCommand(
                "Roll back adapter", "Back to the previous adapter", partial(run, "rollback")
            )
