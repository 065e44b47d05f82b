package dev.m2mfa.cli;

import dev.m2mfa.agent.Agent;
import dev.m2mfa.api.pki.KeyFiles;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code m2mfa agent run}: keeps a fresh token (renewed at about half its lifetime, with
 * jitter so a fleet does not renew in step) and hands it to local workloads through a 0600
 * file and a Unix socket in the agent directory. On the socket, {@code GET /token} answers the
 * token; {@code GET /dpop?htm=GET&htu=https://svc/path} answers a token plus a DPoP proof for
 * that request, so workloads never touch the identity key. A sealed key starts locked: the
 * socket comes up first and {@code POST /unlock} ({@link UnlockEndpoint}, sent by
 * {@code m2mfa agent unlock}) unlocks it in memory; if it re-locks, renewal waits for the next
 * unlock.
 */
@Command(name = "run", mixinStandardHelpOptions = true, description = "Keep a fresh token and serve it to local workloads.",
    footer = {"", "Example:", "  m2mfa agent run --dir /var/lib/m2mfa-agent --audience inventory",
        "  curl --unix-socket /var/lib/m2mfa-agent/agent.sock http://localhost/token"})
final class AgentDaemon implements Callable<Integer> {
  @Mixin Main.AgentCommand.AgentOptions opts;
  @Option(names = "--once", description = "Log in, write the token file, and exit.") boolean once;

  private volatile Agent.Credential current;

  @Override
  public Integer call() throws Exception {
    Agent agent = once ? opts.open() : opts.openLocked();
    Path tokenFile = opts.dir.resolve("token.json");
    if (once) {
      renew(agent, tokenFile);
      return 0;
    }
    boolean locked = agent.key() instanceof dev.m2mfa.agent.keys.SealedKey k && k.locked();
    if (!locked) renew(agent, tokenFile); // the token file exists before the socket does
    Path socket = opts.dir.resolve("agent.sock");
    Files.deleteIfExists(socket);
    Thread.ofVirtual().name("agent-socket").start(() -> serve(agent, socket));
    if (locked) {
      SealedKeyWait.untilUnlocked(agent.key()); // operators unlock through the socket (m2mfa agent unlock)
      renew(agent, tokenFile);
    }
    while (true) {
      long life = Duration.between(Instant.now(), current.expiresAt()).toMillis();
      long wait = Math.max(1_000, (long) (life * (0.45 + ThreadLocalRandom.current().nextDouble() * 0.1)));
      Thread.sleep(wait);
      long backoff = 1_000;
      while (true) {
        try {
          renew(agent, tokenFile);
          break;
        } catch (dev.m2mfa.agent.keys.KeyLockedException e) {
          SealedKeyWait.untilUnlocked(agent.key()); // re-locked: an operator must unlock again
        } catch (IOException e) {
          System.err.println("m2mfa agent: renewal failed (" + e.getMessage() + "), retrying in " + backoff + " ms");
          Thread.sleep(backoff);
          backoff = Math.min(backoff * 2, 30_000);
        }
      }
    }
  }

  private void renew(Agent agent, Path tokenFile) throws IOException {
    Agent.Credential c = agent.login(opts.audience);
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("access_token", c.accessToken());
    body.put("token_type", "DPoP");
    body.put("expires_at", c.expiresAt().getEpochSecond());
    body.put("amr", c.amr());
    body.put("acr", c.acr());
    KeyFiles.writeAtomically(tokenFile, Main.JSON.writeValueAsBytes(body), "rw-------");
    current = c;
  }

  private void serve(Agent agent, Path socket) {
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(socket));
      Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
      while (true) {
        SocketChannel ch = server.accept();
        Thread.ofVirtual().start(() -> answer(agent, ch));
      }
    } catch (IOException e) {
      System.err.println("m2mfa agent: socket endpoint stopped: " + e.getMessage());
    }
  }

  private void answer(Agent agent, SocketChannel ch) {
    try (ch) {
      ByteBuffer buf = ByteBuffer.allocate(4096);
      while (buf.hasRemaining() && ch.read(buf) > 0) {
        String soFar = new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII);
        if (soFar.contains("\r\n\r\n") || soFar.contains("\n\n")) break;
      }
      String request = new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII);
      String line = request.lines().findFirst().orElse("");
      String[] parts = line.split(" ");
      int status = 200;
      Map<String, Object> body = new LinkedHashMap<>();
      Agent.Credential c = current;
      if (parts.length >= 2 && parts[0].equals("POST") && parts[1].equals("/unlock")) {
        UnlockEndpoint.answer(agent.key(), buf.array(), buf.position(), ch);
        return;
      }
      if (c == null && parts.length >= 2 && parts[0].equals("GET")) {
        status = 503;
        body.put("title", "no token yet: the identity key is locked (m2mfa agent unlock) or the first login has not finished");
      } else if (parts.length < 2 || !parts[0].equals("GET")) {
        status = 405;
        body.put("title", "GET only");
      } else if (parts[1].equals("/token")) {
        body.put("access_token", c.accessToken());
        body.put("expires_at", c.expiresAt().getEpochSecond());
      } else if (parts[1].startsWith("/dpop?")) {
        Map<String, String> q = new LinkedHashMap<>();
        for (String kv : parts[1].substring(6).split("&")) {
          int eq = kv.indexOf('=');
          if (eq > 0) q.put(kv.substring(0, eq), java.net.URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8));
        }
        try {
          URI htu = URI.create(q.getOrDefault("htu", ""));
          body.put("access_token", c.accessToken());
          body.put("dpop", agent.dpopProof(q.getOrDefault("htm", "GET"), htu, c.accessToken()));
        } catch (IllegalArgumentException e) {
          status = 400;
          body.clear();
          body.put("title", "htu must be an absolute URI");
        } catch (dev.m2mfa.agent.keys.KeyLockedException e) {
          status = 503;
          body.clear();
          body.put("title", "the identity key re-locked: an operator must unlock it (m2mfa agent unlock)");
        }
      } else {
        status = 404;
        body.put("title", "unknown path");
      }
      byte[] json = Main.JSON.writeValueAsBytes(body);
      String head = "HTTP/1.1 " + status + (status == 200 ? " OK" : " Error") + "\r\nContent-Type: application/json\r\nContent-Length: "
          + json.length + "\r\nConnection: close\r\n\r\n";
      ch.write(ByteBuffer.wrap(head.getBytes(StandardCharsets.US_ASCII)));
      ch.write(ByteBuffer.wrap(json));
    } catch (IOException e) {
      // the workload went away
    }
  }
}
