"""An MP4 whose sample tables claim tens of millions of entries is refused from tokprep's own
atom read, before libavformat allocates for them (limits.max_samples): `check` stays under
200 MiB peak and says which limit. Covers stsz (in stbl, moved into edts, or behind an unknown
first box), a compressed moov (cmov), a moov padded past the walk's box budget, and trun
(fragmented MP4)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bounded_helpers as b  # noqa: E402
import pipeline_helpers as h  # noqa: E402
import tprunner  # noqa: E402

PEAK_MIB = 200
CLAIM = 44_000_000


def expect_refused(path, extra=()):
    rc, out, peak, took = b.run_measured(["check", *extra, path], timeout=20)
    print(f"{os.path.basename(path)}: exit {rc}, peak {peak:.0f} MiB, {took:.2f} s")
    assert rc == 2, (rc, out)
    assert "limits.max_samples" in out, out
    # ASan's shadow memory and quarantine inflate RSS; the refusal is what counts there.
    if not b.SANITIZE:
        assert peak < PEAK_MIB, f"peak {peak:.0f} MiB >= {PEAK_MIB} MiB"
    return out


def test_bounded_sample_bomb():
    with h.TempDir() as t:
        plain = os.path.join(t, "plain.mp4")
        frag = os.path.join(t, "frag.mp4")
        b.make_mp4(plain)
        b.make_mp4(frag, fragmented=True)

        # The real files are accepted, and the count is read from their real tables: a limit
        # below a one-second file's entries refuses it.
        for f in (plain, frag):
            rc, out, peak, _ = b.run_measured(["check", "--json", f], timeout=20)
            assert rc in (0, 1) and "limits.max_samples" not in out, (f, rc, out)
        expect_refused(plain, ["--set", "limits.max_samples=5"])

        bomb = os.path.join(t, "stsz_bomb.mp4")
        b.patch_count(plain, bomb, "stsz", CLAIM)
        assert os.path.getsize(bomb) < 160 * 1024
        out = expect_refused(bomb)
        assert "claim 44000" in out, out  # the claimed count is in the message

        # Where libavformat would still read it: a table moved into another box, a compressed
        # header, a file starting with an unknown box, or behind more boxes than the walk takes.
        nested = os.path.join(t, "edts_bomb.mp4")
        b.nest_in(bomb, nested, "stsz", "edts")
        expect_refused(nested)
        cmov = os.path.join(t, "cmov_bomb.mp4")
        b.wrap_moov_cmov(bomb, cmov)
        out = expect_refused(cmov)
        assert "cmov" in out, out
        junk = os.path.join(t, "junk_first_bomb.mp4")
        b.prepend_unknown_box(bomb, junk)
        expect_refused(junk)
        padded = os.path.join(t, "padded_bomb.mp4")
        b.pad_moov(bomb, padded, 1_100_000)
        out = expect_refused(padded)
        assert "boxes" in out, out

        tbomb = os.path.join(t, "trun_bomb.mp4")
        b.patch_count(frag, tbomb, "trun", CLAIM)
        expect_refused(tbomb)

        # fit probes first: the same refusal, nothing written.
        outdir = os.path.join(t, "out")
        rc, out, peak, _ = b.run_measured(["fit", "-o", outdir, bomb], timeout=20)
        print(f"fit: exit {rc}, peak {peak:.0f} MiB")
        assert rc == 2 and "limits.max_samples" in out, (rc, out)
        assert not os.listdir(outdir), os.listdir(outdir)


if __name__ == "__main__":
    sys.exit(tprunner.main(globals()))
