package dev.m2mfa.cli;

import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.ssh.SshCertificateClient;
import dev.m2mfa.agent.ssh.SshKeys;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code m2mfa ssh}: log in (every factor of the machine's class) and get a short-lived OpenSSH
 * user certificate for a dedicated SSH key, written as {@code <key>-cert.pub} beside the key or
 * loaded with the key into the running ssh-agent ({@code ssh-add -t <remaining validity>}, so
 * the agent forgets both when the certificate expires). With {@code --host-key}, get host
 * certificates for this machine's sshd host keys instead.
 *
 * <p>The key is Ed25519, generated on first use in OpenSSH's private key format (0600). The
 * machine identity key is never used for SSH and never leaves its provider.
 */
@Command(name = "ssh", mixinStandardHelpOptions = true,
    description = "Log in and get a short-lived OpenSSH certificate (user, or with --host-key host).",
    footer = {"", "Examples:",
        "  m2mfa ssh --dir /var/lib/m2mfa-agent                       # key: DIR/ssh/id_ed25519, writes id_ed25519-cert.pub",
        "  m2mfa ssh --dir /var/lib/m2mfa-agent --ssh-agent           # adds key + certificate to $SSH_AUTH_SOCK",
        "  m2mfa ssh --dir /var/lib/m2mfa-agent --host-key /etc/ssh/ssh_host_ed25519_key.pub"})
public final class SshCommand implements Callable<Integer> {
  @Option(names = "--dir", required = true, description = "The agent's state directory.") Path dir;
  @Option(names = "--passphrase-file") Path passphraseFile;
  @Option(names = "--key", description = "SSH private key to certify (its .pub is sent); default DIR/ssh/id_ed25519, generated if missing.")
  Path key;
  @Option(names = "--ssh-agent", description = "Also add key and certificate to the running ssh-agent ($SSH_AUTH_SOCK).") boolean sshAgent;
  @Option(names = "--host-key", description = "A host public key to get a host certificate for (repeatable, at most 8).")
  List<Path> hostKeys = new ArrayList<>();
  @Option(names = "--bind", description = "Local source address to connect from.") String bind;
  @Option(names = "--ssh-auth-sock", description = "The ssh-agent socket for --ssh-agent (default $SSH_AUTH_SOCK).") Path sshAuthSock;

  @Override
  public Integer call() throws Exception {
    Agent agent = Agent.open(dir, Passphrases.read(passphraseFile, "M2MFA_AGENT_PASSPHRASE", "identity key passphrase"),
        bind == null ? null : InetAddress.ofLiteral(bind));
    try {
      if (!hostKeys.isEmpty()) return hostCertificates(agent);
      Path k = key != null ? key : dir.resolve("ssh").resolve("id_ed25519");
      String pub = key != null ? SshKeys.publicLine(k) : SshKeys.ensureEd25519(k, "m2mfa:" + agent.name());
      SshCertificateClient.Certificate c = SshCertificateClient.userCertificate(agent, pub);
      Path certFile = SshKeys.writeCertificate(k, c.line());
      System.out.println("certificate " + certFile + " serial " + c.serial() + " principals " + c.principals() + " valid until "
          + Instant.ofEpochSecond(c.validBefore()));
      if (sshAgent) {
        long seconds = Math.max(1, c.validBefore() - Instant.now().getEpochSecond());
        ProcessBuilder pb = new ProcessBuilder("ssh-add", "-t", Long.toString(seconds), k.toString()).inheritIO();
        if (sshAuthSock != null) pb.environment().put("SSH_AUTH_SOCK", sshAuthSock.toString());
        Process p = pb.start();
        int rc = p.waitFor();
        if (rc != 0) {
          System.err.println("ssh-add failed (exit " + rc + "); is an ssh-agent running (SSH_AUTH_SOCK)?");
          return 1;
        }
      }
      return 0;
    } catch (Agent.RefusedException e) {
      System.err.println("refused (" + e.status() + "); the authority's audit log has the reason");
      return 1;
    }
  }

  private int hostCertificates(Agent agent) throws Exception {
    List<String> lines = new ArrayList<>();
    for (Path p : hostKeys) {
      Path pub = p.toString().endsWith(".pub") ? p : SshKeys.publicFile(p);
      if (!Files.isRegularFile(pub) || Files.size(pub) > 8 * 1024) {
        System.err.println("not a public key file: " + pub);
        return 2;
      }
      lines.add(Files.readString(pub).strip());
    }
    List<SshCertificateClient.Certificate> certs = SshCertificateClient.hostCertificates(agent, lines);
    for (int i = 0; i < certs.size(); i++) {
      Path out = SshKeys.writeCertificate(hostKeys.get(i), certs.get(i).line());
      System.out.println("host certificate " + out + " principals " + certs.get(i).principals() + " valid until "
          + Instant.ofEpochSecond(certs.get(i).validBefore()));
    }
    return 0;
  }
}
