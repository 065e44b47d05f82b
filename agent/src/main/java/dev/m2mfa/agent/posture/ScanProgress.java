package dev.m2mfa.agent.posture;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Progress of a long scan: a one-line bar on a terminal ({@code System.console() != null}),
 * otherwise a quiet structured line ({@code posture.scan phase=… files=… bytes=…}) through
 * {@link System.Logger} at most every ten seconds and once at the end. Written by hand: the
 * bar is thirty lines, not worth a dependency in the agent.
 */
public interface ScanProgress {
  void total(long files, long bytes);

  void advanced(long files, long bytes);

  void done();

  ScanProgress NONE = new ScanProgress() {
    public void total(long files, long bytes) {}

    public void advanced(long files, long bytes) {}

    public void done() {}
  };

  /** A terminal bar when there is a console, structured log lines otherwise. */
  static ScanProgress auto(String label) {
    return System.console() != null ? new Bar(label, System.err) : new Structured(label);
  }

  final class Bar implements ScanProgress {
    private final String label;
    private final PrintStream out;
    private long totalFiles;
    private long totalBytes;
    private long files;
    private long bytes;
    private long lastPrint;

    Bar(String label, PrintStream out) {
      this.label = label;
      this.out = out;
    }

    public synchronized void total(long files, long bytes) {
      totalFiles = files;
      totalBytes = bytes;
    }

    public synchronized void advanced(long f, long b) {
      files += f;
      bytes += b;
      long now = System.nanoTime();
      if (now - lastPrint < 100_000_000L) return;
      lastPrint = now;
      print();
    }

    private void print() {
      if (totalFiles == 0 && totalBytes == 0) { // total unknown while walking: counts only
        out.printf(Locale.ROOT, "\r%s %d files %d MB", label, files, bytes >> 20);
        out.flush();
        return;
      }
      double frac = totalBytes > 0 ? Math.min(1.0, (double) bytes / totalBytes) : (totalFiles > 0 ? (double) files / totalFiles : 0);
      int width = 30;
      int filled = (int) Math.round(frac * width);
      out.printf(Locale.ROOT, "\r%s [%s%s] %3d%% %d/%d files %d MB", label, "#".repeat(filled), " ".repeat(width - filled),
          Math.round(frac * 100), files, totalFiles, bytes >> 20);
      out.flush();
    }

    public synchronized void done() {
      print();
      out.println();
    }
  }

  final class Structured implements ScanProgress {
    private static final System.Logger LOG = System.getLogger("dev.m2mfa.agent.posture");
    private final String label;
    private long totalFiles;
    private long files;
    private long bytes;
    private long lastLog = System.nanoTime();

    Structured(String label) {
      this.label = label;
    }

    public synchronized void total(long f, long b) {
      totalFiles = f;
    }

    public synchronized void advanced(long f, long b) {
      files += f;
      bytes += b;
      long now = System.nanoTime();
      if (now - lastLog >= 10_000_000_000L) {
        lastLog = now;
        LOG.log(System.Logger.Level.INFO, "posture.scan phase=running label={0} files={1}/{2} bytes={3}", label, files, totalFiles, bytes);
      }
    }

    public synchronized void done() {
      LOG.log(System.Logger.Level.DEBUG, "posture.scan phase=done label={0} files={1} bytes={2}", label, files, bytes);
    }
  }
}
