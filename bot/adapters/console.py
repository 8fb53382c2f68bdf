"""`mlbot console`: a terminal REPL over the same commands the Discord bot serves."""
from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from bot.app import App
from bot.commands import REGISTRY, CommandContext, run_command
from bot.commands.parsing import bind_arguments, resolve_command_name, typed_words
from bot.reply import Reply
from bot.users import local_user_name
from ml.errors import InputError

log = logging.getLogger(__name__)

PROMPT = "mlbot> "


class Console:
    def __init__(self, app: App, stdin: TextIO | None = None, stdout: TextIO | None = None,
                 output_dir: Path | None = None):
        self.app = app
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.output_dir = output_dir or (app.home.root / "console-files")
        self.interactive = self.stdin.isatty() and self.stdout.isatty()
        self._saved = 0
        self.user_name = local_user_name()

    def say(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    async def _progress(self, message: str) -> None:
        self.say(f"  ({message})")

    def _setup_line_editing(self) -> None:
        try:
            import readline
        except ImportError:  # not on every platform; the console still works without it
            return
        history = self.app.home.root / "console_history"
        try:
            readline.read_history_file(history)
        except OSError:
            pass
        readline.set_history_length(1000)
        names = sorted({"/" + name.split(" ")[0] for name in REGISTRY}) + ["/quit"]
        readline.set_completer(lambda text, state: ([n for n in names if n.startswith(text)] + [None])[state])
        readline.set_completer_delims(" \t\n")  # so "/sta" completes as a whole word
        readline.parse_and_bind("tab: complete")
        import atexit
        atexit.register(lambda: _save_history(readline, history))

    async def _read_line(self) -> str | None:
        """Read on a daemon thread: a prompt left waiting never holds up Ctrl-C or exit,
        which a loop executor thread would (asyncio joins those at shutdown)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()

        def read() -> None:
            try:
                if self.interactive:
                    line = input(PROMPT)
                else:
                    line = self.stdin.readline() or None
            except EOFError:
                line = None
            except BaseException as exc:  # deliver it to the loop rather than lose it
                loop.call_soon_threadsafe(_settle, future, None, exc)
                return
            loop.call_soon_threadsafe(_settle, future, line, None)

        threading.Thread(target=read, name="console-input", daemon=True).start()
        return await future

    async def run(self) -> None:
        if self.interactive:
            self._setup_line_editing()
        self.say("mlbot console: /help lists the commands, /quit leaves.")
        for name in self.app.trainer.queue:
            self.say(f"Building the {name} model in the background; /status shows its progress.")
        self.app.trainer.on_published = lambda name, ref: self.say(f"\n[the {name} model {ref.version} is ready]")
        while True:
            line = await self._read_line()
            if line is None:
                break
            line = line.strip()
            if not line:
                continue
            if line in ("/quit", "/exit"):
                break
            self.say(await self.handle(line))
        if not self.interactive and self.app.trainer.busy:
            # A non-interactive start (input from a file or a pipe) still finishes the set-up.
            self.say("Input ended; finishing the models being built first...")
            await self._wait_for_training()

    async def _wait_for_training(self) -> None:
        last = 0.0
        while self.app.trainer.busy:
            if time.monotonic() - last > 30:
                for name in list(self.app.trainer.queue):
                    self.say(self.app.trainer.describe(name) or name)
                last = time.monotonic()
            await asyncio.sleep(1)

    async def handle(self, line: str) -> str:
        # plain text is a chat with the friend, as in a DM, word for word
        words = typed_words(line) if line.startswith("/") else ["/friend", line]
        name, rest = resolve_command_name(words)
        cmd = REGISTRY.get(name)
        if cmd is None or "console" not in cmd.adapters:
            return f"unknown command /{name} (try /help)"
        ctx = CommandContext(self.app, "console", "local", user_name=self.user_name,
                             progress=self._progress if self.interactive else None)
        try:
            calls = bind_arguments(cmd, rest)
        except InputError as exc:
            return str(exc)
        outputs = []
        for arguments in calls:
            reply = await run_command(name, ctx, **arguments)
            outputs.append(self.render(reply))
        return "\n".join(outputs)

    def render(self, reply: Reply) -> str:
        text = reply.as_text()
        for file in reply.files:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            self._saved += 1
            path = self.output_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{self._saved}-{file.filename}"
            path.write_bytes(file.data)
            text += f"\n  saved {file.description or file.filename}: {path}"
        return text


def _settle(future: asyncio.Future, value, error) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def _save_history(readline, path: Path) -> None:
    try:
        readline.write_history_file(path)
    except OSError:
        pass
