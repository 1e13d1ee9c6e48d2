"""Buttons in the TUI: a resource's ``v1alpha1.ui_button`` actions.

`ButtonsBar` lists the selected resource's buttons under its details (hidden when it has
none). ``b`` opens `ButtonsScreen`, the list; Enter on one runs it, through
`ButtonFormScreen` when it has inputs to ask for (text fields, checkboxes, choices;
hidden inputs are passed as they are) or asks for confirmation. The screens only collect
a choice and values; the app sends them to the controller's ``run_button``.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from tilt.buttons import ButtonAction, ButtonInput

__all__ = ["ButtonFormScreen", "ButtonsBar", "ButtonsScreen", "Run"]


class ButtonsBar(Static):
    """One line: the selected resource's buttons (hidden when it has none)."""

    def show(self, actions: Sequence[ButtonAction]) -> None:
        """List ``actions`` (the selected resource's buttons)."""
        self.display = bool(actions)
        if not actions:
            return
        t = Text()
        t.append("Buttons ", style="bold")
        t.append("(b)", style="bold cyan")
        t.append(": ")
        for i, a in enumerate(actions):
            if i:
                t.append(" · ")
            t.append(a.text or a.name, style="dim" if a.disabled else "")
        self.update(t)


class Run:
    """What a screen hands back: run button ``name`` with ``values``."""

    def __init__(self, name: str, values: dict[str, str]) -> None:
        self.name = name
        self.values = values


def _asks(action: ButtonAction) -> bool:
    return action.requires_confirmation or any(i.kind != "hidden" for i in action.inputs)


class ButtonsScreen(ModalScreen[Run | None]):
    """The buttons of one resource; Enter runs the highlighted one (via its form)."""

    BINDINGS = [Binding("escape,q", "close", "Close", id="buttons.close")]

    def __init__(self, resource: str, actions: Sequence[ButtonAction]) -> None:
        super().__init__()
        self.resource_name = resource
        self.actions = list(actions)

    def compose(self) -> ComposeResult:
        with Vertical(id="buttons-box"):
            yield Label(Text.assemble((f"Buttons of {self.resource_name}", "bold")))
            yield OptionList(
                *[
                    Option(
                        Text.assemble(
                            (a.text or a.name, "dim" if a.disabled else ""),
                            (f"  {a.name}", "dim"),
                            ("  (disabled)" if a.disabled else "", "dim"),
                            ("  …" if _asks(a) else "", "dim"),
                        ),
                        id=a.name,
                        disabled=a.disabled,
                    )
                    for a in self.actions
                ],
                id="buttons-list",
            )
            yield Label(Text("Enter: run  ·  Esc: close", style="dim"))

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, msg: OptionList.OptionSelected) -> None:
        """Enter on a button: run it now, or ask for its inputs first."""
        action = next(a for a in self.actions if a.name == msg.option.id)
        if not _asks(action):
            self.dismiss(Run(action.name, {}))
            return

        def answered(run: Run | None) -> None:
            if run is not None:
                self.dismiss(run)

        self.app.push_screen(ButtonFormScreen(action), answered)

    def action_close(self) -> None:
        """Close without running anything."""
        self.dismiss(None)


class ButtonFormScreen(ModalScreen[Run | None]):
    """The inputs of one button, with its defaults; Run hands the values back."""

    BINDINGS = [Binding("escape", "close", "Cancel", id="button_form.close")]

    def __init__(self, action: ButtonAction) -> None:
        super().__init__()
        self.action_spec = action

    def _shown(self) -> list[ButtonInput]:
        return [i for i in self.action_spec.inputs if i.kind != "hidden"]

    def compose(self) -> ComposeResult:
        a = self.action_spec
        with Vertical(id="button-form"):
            yield Label(Text.assemble((a.text or a.name, "bold"), (f"  {a.resource}", "dim")))
            for inp in self._shown():
                wid = f"input-{inp.name}"
                if inp.kind == "bool":
                    yield Checkbox(inp.label, value=inp.default == "true", id=wid)
                    continue
                yield Label(inp.label)
                if inp.kind == "choice":
                    yield Select(
                        [(c, c) for c in inp.choices], value=inp.default, allow_blank=False, id=wid
                    )
                else:
                    yield Input(value=inp.default, placeholder=inp.placeholder, id=wid)
            if a.requires_confirmation:
                yield Label(Text("This button asks for confirmation: Run confirms.", "dim"))
            with Horizontal(id="button-form-actions"):
                yield Button("Run", variant="primary", id="button-run")
                yield Button("Cancel", id="button-cancel")

    def on_mount(self) -> None:
        # The first field has the focus: type a value, Enter runs.
        fields = self.query("Input, Checkbox, Select")
        (fields.first() if fields else self.query_one("#button-run", Button)).focus()

    def values(self) -> dict[str, str]:
        """The values in the form, by input name."""
        out: dict[str, str] = {}
        for inp in self._shown():
            wid = f"#input-{inp.name}"
            if inp.kind == "bool":
                out[inp.name] = "true" if self.query_one(wid, Checkbox).value else "false"
            elif inp.kind == "choice":
                out[inp.name] = str(self.query_one(wid, Select).value)
            else:
                out[inp.name] = self.query_one(wid, Input).value
        return out

    def on_button_pressed(self, msg: Button.Pressed) -> None:
        """Run or Cancel."""
        if msg.button.id == "button-run":
            self.dismiss(Run(self.action_spec.name, self.values()))
        else:
            self.dismiss(None)

    def on_input_submitted(self, _msg: Input.Submitted) -> None:
        """Enter in a text field runs the button."""
        self.dismiss(Run(self.action_spec.name, self.values()))

    def action_close(self) -> None:
        """Close without running."""
        self.dismiss(None)
