"""For the integration tests that run tokprep as another user (nobody), which root does to make
permission checks real. That user may not reach the build tree (a checkout under /root, mode
0700), so it runs a copy of the binary in a 0755 folder under /tmp instead. (The shell tests
use other_user.sh, which does the same.)"""
import atexit
import os
import shutil
import subprocess
import tempfile


def binary_for(uid, binary=None):
    """(path, None): a copy of `binary` (default $TOKPREP) that uid can run, removed at exit;
    or (None, reason) when there can be none, for the caller to skip with exit 77."""
    binary = binary or os.environ.get("TOKPREP", "tokprep")
    build = os.environ.get("TP_BUILD_DIR")
    try:
        libs = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    except OSError:
        libs = ""
    if "not found" in libs or (build and os.path.join(os.path.realpath(build), "") in libs):
        return None, "%s needs libraries from the build tree; it cannot run as uid %d from a copy" % (
            binary, uid)
    d = tempfile.mkdtemp(prefix="tokprep-bin.", dir="/tmp")
    atexit.register(shutil.rmtree, d, True)
    os.chmod(d, 0o755)
    copy = os.path.join(d, "tokprep")
    shutil.copy(binary, copy)
    os.chmod(copy, 0o755)
    try:
        subprocess.run([copy, "--version"], user=uid, group=uid, extra_groups=[], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError) as e:
        return None, "uid %d cannot run %s (/tmp mounted noexec?): %s" % (uid, copy, e)
    return copy, None
