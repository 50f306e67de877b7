"""The W&B side of ``runtime.tracking``, run as a child process of an apply.

Importing wandb and ``wandb.init`` cost seconds of CPU (its launch module, the list of
installed packages); in a child process they run on another core while the apply compiles
its plan, imports torch and runs its phases. Stdlib and wandb only: it is started with
``runpy.run_path`` on this file, so neither ``runtime`` nor torch is imported here.

It imports wandb as soon as it starts (``runtime.tracking.prestart`` may start it
before the apply knows its run), then waits for its requests. Protocol: JSON lines on
stdin, ``{"op": "start", ...}`` first (its ``log`` file takes this process's stderr),
then ``{"op": "log", "data": {...}}`` and ``{"op": "finish", "exit_code": N}``; the end
of stdin without a ``finish`` (the apply died) finishes the run with exit code 1, and
without a ``start`` (tracking turned out disabled) just ends. Problems go back as
``{"event": "error", "message": ...}`` lines on stdout, which the apply turns into
warnings; after one, the rest of the input is read and ignored.
"""

from __future__ import annotations

import json
import os
import signal
import sys


def _say(event: str, message: str = "") -> None:
    try:
        sys.stdout.write(json.dumps({"event": event, "message": message}) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass  # the apply stopped listening


def _preload() -> None:
    """Import wandb and what ``wandb.init`` imports (its launch inputs) ahead of the run;
    a failure is left for the start request to report."""
    try:
        import wandb  # noqa: F401
        import wandb.sdk.launch.inputs.internal  # noqa: F401
    except Exception:
        pass


def _start(request: dict):
    """The W&B run of ``request`` (the apply's project, run id, directory and mode)."""
    with open(request["log"], "ab") as log:
        os.dup2(log.fileno(), 2)
    os.environ.update(request["env"])
    import wandb

    try:  # system metrics of the apply's process tree, not of this process alone
        settings = wandb.Settings(x_stats_pid=int(request["stats_pid"]))
    except Exception:  # a wandb without that setting: its default
        settings = None
    return wandb.init(project=request["project"], name=request["run_id"],
                      id=request["run_id"], dir=request["dir"], mode=request["mode"],
                      config=request["config"], settings=settings)


def serve(lines) -> None:
    """Carry out the requests in ``lines`` (JSON strings), reporting on stdout."""
    run, exit_code = None, 1
    for line in lines:
        request = json.loads(line)
        op = request.get("op")
        try:
            if op == "start":
                run = _start(request)
                _say("started")
            elif op == "log" and run is not None:
                run.log(request["data"])
            elif op == "finish":
                exit_code = int(request.get("exit_code", 0))
                break
        except Exception as e:  # report it once, then ignore the rest
            what = "could not start" if op == "start" else "logging failed"
            _say("error", f"W&B {what} ({type(e).__name__}: {e})")
            run = None
    if run is not None:
        try:
            run.finish(exit_code=exit_code)
        except Exception as e:
            _say("warning", f"W&B did not close cleanly ({type(e).__name__}: {e})")
    _say("finished")


def main() -> None:
    """Serve stdin; Ctrl-C is the apply's to handle (it finishes this run itself)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _preload()
    serve(sys.stdin)


if __name__ == "__main__":
    main()
