"""One runner for the Python tests, on the standard library's unittest: each test_* function of
a module is one case, run in definition order whatever the others do; one line per case (`ok`,
`FAIL` with its traceback, `skip` with the reason) and a summary line. Exit status: 0 all ran
cases passed, 1 some failed, 77 nothing ran (every case skipped, e.g. no redis-server), which
ctest's SKIP_RETURN_CODE shows as skipped, never as passed.

A file ends with
    if __name__ == "__main__":
        sys.exit(tprunner.main(globals(), cleanup=[ROOT]))
A case skips itself with `tprunner.skip("why")` (unittest.SkipTest). Command-line arguments, when
given, name the cases to run."""
import contextlib
import inspect
import shutil
import sys
import time
import traceback
import unittest

__unittest = True  # tracebacks start at the test, not in this runner

SKIP = 77


def skip(reason):
    """Skip the calling case (or, from a fixture or setup, every case of the file)."""
    raise unittest.SkipTest(reason)


def module_cases(namespace, sort=False):
    """The (name, function) pairs of a module's test_* functions, in definition order (sorted
    by name when sort is true)."""
    cases = [(n, f) for n, f in namespace.items()
             if n.startswith("test_") and inspect.isfunction(f)]
    return sorted(cases) if sort else cases


class _Case(unittest.TestCase):
    """One function as a test case. Its parameters are filled by name from the fixture's dict."""

    def __init__(self, name, fn, values):
        super().__init__("runTest")
        self._name, self._fn, self._values = name, fn, values

    def runTest(self):
        params = inspect.signature(self._fn).parameters
        missing = [p for p, v in params.items()
                   if p not in self._values and v.default is inspect.Parameter.empty]
        if missing:
            raise TypeError("%s: the fixture gives no %s" % (self._name, ", ".join(missing)))
        self._fn(**{p: self._values[p] for p in params if p in self._values})

    def id(self):
        return self._name

    def __str__(self):
        return self._name


class _Result(unittest.TestResult):
    """Prints one line per case as it ends; counts what ran."""

    def __init__(self):
        super().__init__()
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1
        print("ok   %s" % test, flush=True)

    def _bad(self, test, err):
        print("FAIL %s" % test, flush=True)
        print(self._exc_info_to_string(err, test), end="", file=sys.stdout, flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._bad(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._bad(test, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        print("skip %s (%s)" % (test, reason), flush=True)


def run(cases, fixture=None, setup=None, after=(), cleanup=(), argv=None):
    """Run (name, function) cases; see main(). Returns the exit status."""
    t0 = time.time()
    only = sys.argv[1:] if argv is None else argv
    if only:
        unknown = set(only) - {n for n, _ in cases}
        if unknown:
            print("no such case: %s" % ", ".join(sorted(unknown)))
            return 2
        cases = [c for c in cases if c[0] in only]
    result = _Result()
    try:
        with contextlib.ExitStack() as stack:
            values = {}
            try:
                if setup:
                    setup()
                if fixture:
                    values = stack.enter_context(fixture()) or {}
            except unittest.SkipTest as e:
                for name, _ in cases:
                    result.addSkip(_Case(name, None, {}), str(e))
                cases = []
            except Exception:
                print("FAIL set-up (%s)" % getattr(fixture or setup, "__name__", "fixture"))
                traceback.print_exc(file=sys.stdout)
                return 1
            suite = unittest.TestSuite(_Case(n, f, values) for n, f in cases)
            suite.run(result)
            # Checks over what the cases left (e.g. no secret in any output): only when some
            # case ran, since over nothing they would pass without meaning anything.
            if result.passed or result.failures or result.errors:
                unittest.TestSuite(_Case(f.__name__, f, values) for f in after).run(result)
    finally:
        for folder in cleanup:
            shutil.rmtree(folder, ignore_errors=True)
    bad = [str(t) for t, _ in result.failures + result.errors]
    print("%d ok, %d failed, %d skipped in %.1f s%s" % (
        result.passed, len(bad), len(result.skipped), time.time() - t0,
        (": " + ", ".join(bad)) if bad else ""), flush=True)
    if bad:
        return 1
    return 0 if result.passed else SKIP


def main(namespace, fixture=None, setup=None, after=(), cleanup=(), sort=False, select=None,
         argv=None):
    """Run the test_* functions of namespace (a module's globals()).

    fixture: a function returning a context manager (e.g. a @contextlib.contextmanager
      generator) around all cases; what it yields, a dict, fills the cases' parameters by name.
    setup: a function called once before the fixture.
    Either may call skip(): then every case is reported skipped and the exit status is 77.
    after: functions run after the cases (only when one ran), as cases of their own.
    cleanup: folders removed at the end, whatever happened.
    sort: run in name order instead of definition order. select: a predicate on case names.
    argv: the case names to run (default: the command line's arguments; none = all)."""
    cases = [(n, f) for n, f in module_cases(namespace, sort) if not select or select(n)]
    return run(cases, fixture=fixture, setup=setup, after=after, cleanup=cleanup, argv=argv)
