"""One runner for the Python integration tests: every case runs to its end whatever the others
do, each prints `ok` or `FAIL` (with its traceback), and the exit status says whether any failed."""
import shutil
import traceback


def module_cases(namespace, sort=False):
    """The (name, function) pairs of a module's test_* functions, in definition order or sorted."""
    cases = [(n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    return sorted(cases) if sort else cases


def run_cases(cases, cleanup=(), only=(), after=()):
    """Run each (name, fn) of cases (only those named in `only`, when given), then each of
    `after` (always: checks over what the cases left, e.g. no secret in any output), then remove
    the folders in cleanup. Returns 0, or 1 when a case failed."""
    failed = []
    for name, fn in [c for c in cases if not only or c[0] in only] + list(after):
        try:
            fn()
            print("ok   %s" % name, flush=True)
        except Exception:
            failed.append(name)
            print("FAIL %s" % name, flush=True)
            traceback.print_exc()
    for folder in cleanup:
        shutil.rmtree(folder, ignore_errors=True)
    if failed:
        print("FAILED: %s" % ", ".join(failed))
        return 1
    return 0
