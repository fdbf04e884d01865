"""`jupyter console`, with the Ctrl-C relay it means to have.

jupyter_console 6.4.4 (Debian 12) installs a SIGINT handler that sends the
kernel an interrupt while a cell runs, but prompt_toolkit removes its own
asyncio SIGINT handler after each prompt, which resets SIGINT to Python's
default: Ctrl-C then raises "KeyboardInterrupt escaped interact()" in the
console and never reaches the kernel (ipykernel's too). This launcher puts
the console's own handler back before each cell, and is otherwise
`jupyter console ARGS...`.
"""
import signal
import sys

from jupyter_console import app, ptshell

_run_cell = ptshell.ZMQTerminalInteractiveShell.run_cell


def _run_cell_with_relay(self, cell, store_history=True):
    signal.signal(signal.SIGINT, app.ZMQTerminalIPythonApp.instance().handle_sigint)
    return _run_cell(self, cell, store_history)


ptshell.ZMQTerminalInteractiveShell.run_cell = _run_cell_with_relay

if __name__ == "__main__":
    sys.exit(app.main())
