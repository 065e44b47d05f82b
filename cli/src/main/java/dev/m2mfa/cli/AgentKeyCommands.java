package dev.m2mfa.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.m2mfa.agent.keys.KeyConfig;
import dev.m2mfa.agent.keys.KeyContext;
import dev.m2mfa.agent.keys.KeyProviders;
import dev.m2mfa.agent.keys.SealedKey;
import dev.m2mfa.agent.keys.SealedKeyProvider;
import java.io.FileInputStream;
import java.io.FileDescriptor;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code m2mfa agent unlock} and {@code m2mfa agent seal}: operator commands for a sealed
 * identity key. Secrets come from a file, a file descriptor, an environment variable or a
 * prompt, never from argv.
 *
 * <p>How a running daemon is unlocked: {@code unlock} sends the passphrase, or this operator's
 * one share, to the daemon's Unix socket ({@code agent.sock}, 0600) and the daemon unlocks the
 * key in its memory; k operators each run it with their share. Nothing unlocked is written to
 * disk, so a restarted daemon starts locked again (unless a TPM auto-unseal source is set).
 */
final class AgentKeyCommands {
  private AgentKeyCommands() {}

  @Command(name = "unlock", mixinStandardHelpOptions = true,
      description = "Unlock the running agent daemon's sealed key with the passphrase or this operator's share.",
      footer = {"", "Examples:", "  m2mfa agent unlock --dir /var/lib/m2mfa-agent                       # prompts",
          "  m2mfa agent unlock --dir /var/lib/m2mfa-agent --share-file ~/share-2.txt",
          "  m2mfa agent unlock --dir /var/lib/m2mfa-agent --passphrase-fd 3 3</run/secrets/seal"})
  static final class Unlock implements Callable<Integer> {
    @Option(names = "--dir", required = true) Path dir;
    @Option(names = "--passphrase-file", description = "File holding the seal passphrase.") Path passphraseFile;
    @Option(names = "--passphrase-fd", description = "Read the passphrase from this open file descriptor (0 for stdin).") Integer passphraseFd;
    @Option(names = "--share-file", description = "File holding one share (repeatable).") List<Path> shareFiles = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
      int needed = SealedKeyProvider.sharesNeeded(dir);
      Path socket = dir.resolve("agent.sock");
      if (!Files.exists(socket)) {
        throw new IOException("no agent daemon is running in " + dir + " (start it with m2mfa agent run; a one-shot agent login asks for a passphrase itself)");
      }
      if (needed == 0) {
        char[] pass = secret(passphraseFile, passphraseFd, "M2MFA_SEAL_PASSPHRASE", "seal passphrase");
        try {
          return report(send(socket, "passphrase", pass));
        } finally {
          Arrays.fill(pass, '\0');
        }
      }
      List<char[]> shares = new ArrayList<>();
      for (Path f : shareFiles) shares.add(Passphrases.read(f, "M2MFA_SEAL_SHARE", "share"));
      if (shares.isEmpty()) shares.add(secret(null, passphraseFd, "M2MFA_SEAL_SHARE", "your share (" + needed + " operators needed)"));
      int rc = 1;
      for (char[] s : shares) {
        try {
          rc = report(send(socket, "share", s));
        } finally {
          Arrays.fill(s, '\0');
        }
        if (rc != 0 && rc != 10) return rc;
      }
      return rc == 10 ? 0 : rc;
    }

    /** 0 unlocked, 10 share accepted but more needed, 1 refused. */
    private static int report(JsonNode r) {
      if (r.path("unlocked").asBoolean(false)) {
        System.out.println("unlocked: the agent can log in");
        return 0;
      }
      if (r.has("shares_given")) {
        System.out.println("share accepted: " + r.path("shares_given").asInt() + " of " + r.path("shares_needed").asInt()
            + " given; the next operator runs m2mfa agent unlock with theirs");
        return 10;
      }
      System.err.println("unlock refused: " + r.path("title").asText("unknown reason"));
      return 1;
    }
  }

  @Command(name = "seal", mixinStandardHelpOptions = true,
      description = "Re-seal the sealed identity key to k of n shares (printed once, each labelled) or to a new passphrase.",
      footer = {"", "The current passphrase or shares unlock it first (prompt, --passphrase-file, --share-file).", "",
          "Examples:", "  m2mfa agent seal --dir /var/lib/m2mfa-agent --shares 3 --threshold 2",
          "  m2mfa agent seal --dir /var/lib/m2mfa-agent --new-passphrase-file /run/secrets/new"})
  static final class Seal implements Callable<Integer> {
    @Option(names = "--dir", required = true) Path dir;
    @Option(names = "--shares", description = "How many shares to hand out (n).") Integer shares;
    @Option(names = "--threshold", description = "How many shares unlock (k).") Integer threshold;
    @Option(names = "--passphrase-file", description = "The current seal passphrase.") Path passphraseFile;
    @Option(names = "--share-file", description = "A current share (repeatable).") List<Path> shareFiles = new ArrayList<>();
    @Option(names = "--new-passphrase-file", description = "Re-seal to this passphrase instead of shares.") Path newPassphraseFile;

    @Override
    public Integer call() throws Exception {
      if ((shares == null) == (newPassphraseFile == null)) throw new IllegalArgumentException("give either --shares N --threshold K or --new-passphrase-file");
      if (shares != null && threshold == null) throw new IllegalArgumentException("--threshold K is required with --shares");
      KeyContext context = context(dir);
      SealedKey key = (SealedKey) KeyProviders.byName("sealed").open(context);
      if (key.locked()) unlock(key);
      if (shares != null) {
        List<String> out = SealedKeyProvider.resealToShares(key, context, threshold, shares);
        System.out.println("The key is now sealed to " + threshold + " of " + shares + " shares. Give each share to a different operator;");
        System.out.println("they are shown this once and stored nowhere. Any " + threshold + " of them unlock the agent (m2mfa agent unlock).");
        for (int i = 0; i < out.size(); i++) System.out.println("  share " + (i + 1) + " of " + out.size() + ": " + out.get(i));
      } else {
        char[] pass = Passphrases.read(newPassphraseFile, "M2MFA_NEW_SEAL_PASSPHRASE", "new seal passphrase");
        try {
          SealedKeyProvider.resealToPassphrase(key, context, pass);
        } finally {
          Arrays.fill(pass, '\0');
        }
        System.out.println("The key is now sealed to the new passphrase.");
      }
      return 0;
    }

    private void unlock(SealedKey key) throws IOException {
      if (key.sharesNeeded() == 0) {
        char[] pass = Passphrases.read(passphraseFile, "M2MFA_SEAL_PASSPHRASE", "current seal passphrase");
        try {
          key.unlockWithPassphrase(pass);
        } finally {
          Arrays.fill(pass, '\0');
        }
        return;
      }
      List<String> given = new ArrayList<>();
      for (Path f : shareFiles) given.add(new String(Passphrases.read(f, "M2MFA_SEAL_SHARE", "share")));
      key.unlockWithShares(given);
    }
  }

  /** The agent's key context from its agent.conf, with no secret source (operators give secrets explicitly). */
  static KeyContext context(Path dir) throws IOException {
    Properties p = new Properties();
    try (var r = Files.newBufferedReader(dir.resolve("agent.conf"))) {
      p.load(r);
    }
    KeyConfig keys = KeyConfig.from(p);
    if (!keys.provider().equals("sealed")) throw new IllegalArgumentException("this agent's key provider is " + keys.provider() + ", not sealed");
    return KeyContext.of(dir, keys.options(), KeyContext.Secrets.none());
  }

  static char[] secret(Path file, Integer fd, String env, String prompt) throws IOException {
    if (fd != null) {
      if (fd < 0) throw new IllegalArgumentException("--passphrase-fd must be 0 or more");
      byte[] raw;
      try (FileInputStream in = fd == 0 ? new FileInputStream(FileDescriptor.in) : new FileInputStream("/proc/self/fd/" + fd)) {
        raw = in.readNBytes(4097);
      }
      try {
        if (raw.length > 4096) throw new IOException("secret on fd " + fd + " is too large");
        String s = new String(raw, StandardCharsets.UTF_8).strip();
        if (s.isEmpty()) throw new IOException("no secret on fd " + fd);
        return s.toCharArray();
      } finally {
        Arrays.fill(raw, (byte) 0);
      }
    }
    return Passphrases.read(file, env, prompt);
  }

  /** POST /unlock on the daemon's socket. */
  static JsonNode send(Path socket, String field, char[] secret) throws IOException {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put(field, new String(secret));
    byte[] json = Main.JSON.writeValueAsBytes(body);
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      String head = "POST /unlock HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: " + json.length + "\r\n\r\n";
      ch.write(ByteBuffer.wrap(head.getBytes(StandardCharsets.US_ASCII)));
      ch.write(ByteBuffer.wrap(json));
      Arrays.fill(json, (byte) 0);
      ByteBuffer in = ByteBuffer.allocate(8192);
      while (in.hasRemaining() && ch.read(in) >= 0) {
        // read until the daemon closes
      }
      String response = new String(in.array(), 0, in.position(), StandardCharsets.UTF_8);
      int start = response.indexOf("\r\n\r\n");
      return Main.JSON.readTree(start < 0 ? "{}" : response.substring(start + 4));
    }
  }
}
