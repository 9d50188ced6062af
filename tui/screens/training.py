"""Personal fine-tuning: the nightly schedule, the run in progress (live), every training
run with its loss curve, and the adapters to activate or roll back."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Sparkline, Static, Switch
from textual.worker import Worker, WorkerState

from cove.tui import training
from cove.tui.screens.prompt import PromptScreen
from cove.tui.training import DEFAULT_TIME, Run, Schedule, TrainingState
from cove.tui.widgets.status_bar import StatusBar
from cove.tui.work import api_worker, cove_app

DAEMON_DOWN = "The daemon is not running: training state comes from it."
NOTHING_YET = (
    "Nothing trained yet. Cove learns from what you teach it:\n"
    "• `cove teach QUESTION ANSWER` adds a fact to the teach folder;\n"
    "• in the chat, rate answers (+ and -) and correct wrong ones (e).\n"
    f"n trains now; t trains every night (at {DEFAULT_TIME}; e sets the time)."
)
RUN_COLUMNS = ("Run", "Started", "Trigger", "Status", "Train", "Held-out loss", "Adapter", "Error")
ADAPTER_COLUMNS = ("Adapter", "Created", "Status", "Active", "Removed data")
LIVE_INTERVAL_S = 1.0  # how often the run in progress is fetched
ACTIONS = "training-action"  # the workers after which the state is fetched again


def _selected(table: DataTable) -> str | None:
    if table.row_count == 0:
        return None
    key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
    return str(key.value) if key.value is not None else None


class TrainingScreen(Screen[None]):
    """Fetches `GET /api/train`; while a run is in progress, follows it every second."""

    CSS_PATH = "training.tcss"
    BINDINGS = [
        Binding(
            "n", "train_now", "Train now", tooltip="Start a training run now", id="training.now"
        ),
        Binding(
            "c", "cancel_run", "Cancel", tooltip="Stop the run in progress", id="training.cancel"
        ),
        Binding(
            "t",
            "toggle_schedule",
            "Schedule",
            tooltip="Turn nightly training on or off",
            id="training.schedule",
        ),
        Binding(
            "e", "set_time", "Time", tooltip="Set the nightly training time", id="training.time"
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
        self._time = DEFAULT_TIME  # the last schedule time seen (off forgets it)
        self._selected_run: str | None = None
        self._following: Worker | None = None
        self._watching: str | None = None  # the run whose end will be announced

    def compose(self) -> ComposeResult:
        yield StatusBar("Training")
        with VerticalScroll(id="training", classes="-unavailable"):
            empty = Static("Loading…", id="empty", markup=False)
            empty.border_title = "Training"
            yield empty
            with Vertical(id="schedule-section", classes="data"):
                yield Label("Nightly training", classes="section")
                with Horizontal(id="schedule-row"):
                    yield Switch(id="schedule-on", tooltip="Turn nightly training on or off (t)")
                    yield Label("", id="schedule-text", markup=False)
                yield Label("", id="conditions", markup=False)
            yield Label("", id="live", markup=False)
            nothing = Static(NOTHING_YET, id="nothing-yet", classes="data", markup=False)
            nothing.border_title = "No runs yet"
            yield nothing
            with Vertical(id="runs-section", classes="data trained"):
                yield Label("Runs", classes="section")
                yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
                yield Label("Loss", id="loss-title", classes="section", markup=False)
                yield Sparkline([], id="loss")
            with Vertical(id="adapters-section", classes="data trained"):
                yield Label("Adapters", classes="section")
                yield DataTable(id="adapters", cursor_type="row", zebra_stripes=True)
                yield Label(
                    "No adapters yet: a run that gets through training makes one.", id="no-adapters"
                )
        yield Footer()

    def on_mount(self) -> None:
        runs = self.query_one("#runs", DataTable)
        for name, key in zip(RUN_COLUMNS, range(len(RUN_COLUMNS)), strict=True):
            runs.add_column(name, key=str(key))
        self.query_one("#adapters", DataTable).add_columns(*ADAPTER_COLUMNS)
        self._ticker = self.set_interval(LIVE_INTERVAL_S, self._follow_run, pause=True)
        self.watch(self.app, "daemon", self._daemon_changed)

    def _daemon_changed(self, state: str) -> None:
        if state == "up" and self.is_current:
            self.action_reload()
        elif state == "down":
            self.show(None, DAEMON_DOWN)

    def on_screen_resume(self) -> None:
        if cove_app(self).daemon == "up":
            self.action_reload()

    def on_screen_suspend(self) -> None:
        self._ticker.pause()

    # --- showing the state ---------------------------------------------------------

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
        box.set_class(available and state.empty, "-empty")
        box.set_class(available and not state.empty, "-trained")
        self.refresh_bindings()
        if state is None or not state.available:
            self._ticker.pause()
            self.query_one("#empty", Static).update(state.reason if state else reason)
            return
        self._show_schedule(state)
        self._show_live(state.run)
        self._show_runs(state)
        self._show_adapters(state)
        self._announce_end(state)

    def _announce_end(self, state: TrainingState) -> None:
        """Say how the run followed here ended (however short it was)."""
        if state.run is not None:
            self._watching = state.run.id
            return
        ended = next((run for run in state.runs if run.id == self._watching), None)
        if ended is None or ended.running:
            return
        self._watching = None
        text, severity = ended.outcome()
        self.notify(text, severity=severity, markup=False)

    def _show_schedule(self, state: TrainingState) -> None:
        schedule = state.schedule
        self._time = schedule.time or self._time
        switch = self.query_one("#schedule-on", Switch)
        with switch.prevent(Switch.Changed):
            switch.value = schedule.enabled
        self.query_one("#schedule-text", Label).update(schedule.text())
        conditions = state.conditions
        text = conditions.text() if conditions else ""
        if conditions and schedule.enabled and conditions.reasons:
            text += "\nA scheduled run would wait: " + "; ".join(conditions.reasons)
        self.query_one("#conditions", Label).update(text)

    def _show_live(self, run: Run | None) -> None:
        self.query_one("#training").set_class(run is not None, "-running")
        if run is None:
            self._ticker.pause()
            return
        self.query_one("#live", Label).update(run.progress_text())
        if self.is_current:
            self._ticker.resume()

    def _show_runs(self, state: TrainingState) -> None:
        table = self.query_one("#runs", DataTable)
        keep = self._selected_run
        table.clear()
        for run in state.runs:
            table.add_row(*run.row(), key=run.id)
        ids = [run.id for run in state.runs]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))
        self._show_loss()

    def _show_loss(self) -> None:
        """The loss curve of the selected run (the newest when none is)."""
        runs = self.state.runs if self.state else ()
        run = next((r for r in runs if r.id == self._selected_run), runs[0] if runs else None)
        self.query_one("#loss", Sparkline).data = list(run.losses) if run else []
        title = "Loss"
        if run is not None:
            title += f", run {run.id}" + (f" ({len(run.losses)} steps)" if run.losses else ": none")
        self.query_one("#loss-title", Label).update(title)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "runs" and event.row_key.value is not None:
            self._selected_run = str(event.row_key.value)
            self._show_loss()

    def _show_adapters(self, state: TrainingState) -> None:
        table = self.query_one("#adapters", DataTable)
        keep = _selected(table)
        table.clear()
        for adapter in state.adapters:
            table.add_row(*adapter.row(), key=adapter.id)
        ids = [adapter.id for adapter in state.adapters]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))
        table.display = bool(ids)
        self.query_one("#no-adapters").display = not ids

    # --- the run in progress -------------------------------------------------------

    def _follow_run(self) -> None:
        """Every second while a run is in progress: fetch it (one call at a time)."""
        run = self.state.run if self.state else None
        if run is None or not self.is_current:
            self._ticker.pause()
            return
        if self._following is not None and self._following.is_running:
            return
        self._following = api_worker(
            self,
            partial(training.fetch_run, run_id=run.id),
            self._run_changed,
            what="Following the training run",
            group="training-run",
        )

    def _run_changed(self, run: Run) -> None:
        if self.state is None or not self.state.available:
            return
        if not run.running:  # it ended: adapters, schedule and conditions may have changed
            self.show(self.state.with_run(run))
            self.action_reload()
            return
        self.state = self.state.with_run(run)
        self._show_live(run)
        table = self.query_one("#runs", DataTable)
        if run.id in table.rows:
            for key, value in enumerate(run.row()):
                table.update_cell(run.id, str(key), value)
        else:
            self._show_runs(self.state)
        if self._selected_run in (None, run.id):
            self._show_loss()

    # --- actions -------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        state = self.state
        if action == "reload":
            return True
        if state is None or not state.available:
            return False  # hidden until there is training to act on
        if action == "train_now":
            return state.run is None
        if action == "cancel_run":
            return state.run is not None
        if action in ("activate", "rollback"):
            return bool(state.adapters)
        return True

    def action_train_now(self) -> None:
        """Start a training run now."""
        api_worker(
            self,
            training.train_now,
            self._started,
            what="Starting a training run",
            group=ACTIONS,
        )

    def _started(self, run: Run) -> None:
        self._watching = run.id
        self.notify(f"Training run {run.id} started.", markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """After an action, succeeded or not, show what the daemon has now (a switch
        turned in vain goes back)."""
        finished = event.worker.group == ACTIONS and event.state == WorkerState.SUCCESS
        if finished and cove_app(self).daemon == "up":
            self.action_reload()

    def action_cancel_run(self) -> None:
        """Stop the run in progress (the steps done are kept)."""
        api_worker(
            self,
            training.cancel_run,
            lambda run: self.notify(f"Stopping training run {run.id}…", markup=False),
            what="Cancelling the training run",
            group=ACTIONS,
        )

    def action_toggle_schedule(self) -> None:
        """Turn the nightly training run on or off."""
        switch = self.query_one("#schedule-on", Switch)
        switch.value = not switch.value

    def on_switch_changed(self, event: Switch.Changed) -> None:
        if event.switch.id == "schedule-on":
            self._set_schedule(event.value, self._time)

    def action_set_time(self) -> None:
        """Ask for the nightly training time, then train every night at it."""

        def chosen(value: str | None) -> None:
            if value:
                self._set_schedule(True, value)

        self.app.push_screen(
            PromptScreen("Nightly training", "Train every night at (HH:MM, 24-hour)", self._time),
            chosen,
        )

    def _set_schedule(self, enabled: bool, time_of_day: str) -> None:
        api_worker(
            self,
            lambda client: training.set_schedule(client, enabled, time_of_day),
            self._schedule_set,
            what="Changing the schedule",
            group=ACTIONS,
        )

    def _schedule_set(self, schedule: Schedule) -> None:
        on = f"Training every night at {schedule.time}." if schedule.enabled else None
        self.notify(on or "Nightly training is off.", markup=False)

    def action_activate(self) -> None:
        """Serve answers with the selected adapter."""
        adapter_id = _selected(self.query_one("#adapters", DataTable))
        if adapter_id is None:
            self.notify("No adapters yet.", severity="warning")
            return

        api_worker(
            self,
            lambda client: training.activate_adapter(client, adapter_id),
            lambda _: self.notify(f"Adapter {adapter_id} is active.", markup=False),
            what="Activating the adapter",
            group=ACTIONS,
        )

    def action_rollback(self) -> None:
        """Go back to the adapter that was active before."""

        def done(result: dict) -> None:
            path = result.get("adapter")
            now = f"adapter {Path(path).parent.name}" if path else "no adapter"
            self.notify(f"Rolled back: answers now use {now}.", markup=False)

        api_worker(self, training.rollback_adapter, done, what="Rolling back", group=ACTIONS)

    def commands(self) -> Iterable[SystemCommand]:
        """The training screen's actions for the command palette."""
        run = self.run_action
        actions = [
            ("Train now", "Start a training run now", "train_now"),
            ("Cancel training run", "Stop the run in progress", "cancel_run"),
            ("Schedule on/off", "Turn nightly training on or off", "toggle_schedule"),
            ("Set training time", "Train every night at a time you choose", "set_time"),
            ("Activate adapter", "Serve with the selected adapter", "activate"),
            ("Roll back adapter", "Back to the previous adapter", "rollback"),
            ("Reload training", "Fetch the training state", "reload"),
        ]
        for title, help_text, action in actions:
            if self.check_action(action, ()):
                yield SystemCommand(title, help_text, partial(run, action))
