package dev.m2mfa.cli;

import dev.m2mfa.agent.ssh.SshdSync;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.api.pki.TlsContexts;
import java.io.IOException;
import java.io.Reader;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code m2mfa agent sshd-sync}: keeps this host's {@code TrustedUserCAKeys} and
 * {@code RevokedKeys} files current (see {@link SshdSync}). Needs only the public authority
 * address and trust root from the agent directory: no login, no passphrase.
 */
@Command(name = "sshd-sync", mixinStandardHelpOptions = true,
    description = "Keep sshd's TrustedUserCAKeys and RevokedKeys (KRL) files current: atomic replace, on every revocation event and every --refresh-seconds.",
    footer = {"", "sshd_config:", "  TrustedUserCAKeys /etc/ssh/m2mfa/" + SshdSync.CA_FILE, "  RevokedKeys /etc/ssh/m2mfa/" + SshdSync.KRL_FILE,
        "", "Example:", "  m2mfa agent sshd-sync --dir /var/lib/m2mfa-agent --out /etc/ssh/m2mfa"})
public final class SshdSyncCommand implements Callable<Integer> {
  @Option(names = "--dir", required = true, description = "The agent's state directory (agent.conf, root.pem).") Path dir;
  @Option(names = "--out", defaultValue = "/etc/ssh/m2mfa", description = "Where to write the two files (default ${DEFAULT-VALUE}).") Path out;
  @Option(names = "--once", description = "Sync once and exit (0 on success).") boolean once;
  @Option(names = "--refresh-seconds", defaultValue = "300", description = "Periodic refresh besides the revocation stream (10-86400).")
  long refreshSeconds;

  @Override
  public Integer call() throws Exception {
    if (refreshSeconds < 10 || refreshSeconds > 86_400) {
      System.err.println("--refresh-seconds must be 10-86400");
      return 2;
    }
    try (SshdSync sync = new SshdSync(authority(dir), TlsContexts.create(Pem.certificate(Files.readString(dir.resolve("root.pem"))), null, null),
        out, Duration.ofSeconds(refreshSeconds))) {
      if (once) {
        SshdSync.Result r = sync.syncOnce();
        System.out.println("sshd-sync: " + (r.caChanged() || r.krlChanged() ? "updated" : "unchanged") + " " + out);
        return 0;
      }
      sync.run(System.err::println);
      return 0;
    }
  }

  static URI authority(Path agentDir) throws IOException {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(agentDir.resolve("agent.conf"))) {
      p.load(r);
    }
    String a = p.getProperty("authority");
    if (a == null || a.lastIndexOf(':') < 0) throw new IOException("agent.conf has no authority host:port");
    String host = a.substring(0, a.lastIndexOf(':'));
    if (host.contains(":") && !host.startsWith("[")) host = "[" + host + "]";
    return URI.create("https://" + host + ":" + a.substring(a.lastIndexOf(':') + 1));
  }
}
