package dev.m2mfa.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.m2mfa.agent.keys.MachineSigner;
import dev.m2mfa.agent.keys.SealedKey;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code POST /unlock} on the agent daemon's Unix socket (0600, in the agent's state
 * directory: only the agent's user reaches it). Body {@code {"passphrase": "..."}} or
 * {@code {"share": "..."}}, at most 4 KiB. Shares accumulate in the daemon's memory until k
 * distinct ones arrived, so each operator can run {@code m2mfa agent unlock} with their own
 * share. Nothing is written to disk; the answer names progress, never a secret.
 */
final class UnlockEndpoint {
  static final int MAX_BODY = 4096;

  private UnlockEndpoint() {}

  /** @param head what the daemon already read (request line, headers, maybe part of the body) */
  static void answer(MachineSigner key, byte[] head, int headLength, SocketChannel ch) throws IOException {
    String text = new String(head, 0, headLength, StandardCharsets.ISO_8859_1);
    int end = text.indexOf("\r\n\r\n");
    int sep = 4;
    if (end < 0) {
      end = text.indexOf("\n\n");
      sep = 2;
    }
    int status = 200;
    Map<String, Object> body = new LinkedHashMap<>();
    byte[] content = null;
    try {
      if (!(key instanceof SealedKey sealed)) {
        status = 409;
        body.put("title", "this agent's key is not sealed; there is nothing to unlock");
      } else if (end < 0) {
        status = 400;
        body.put("title", "malformed request");
      } else {
        int length = contentLength(text.substring(0, end));
        if (length < 0 || length > MAX_BODY) {
          status = 400;
          body.put("title", "Content-Length required, at most " + MAX_BODY + " bytes");
        } else {
          content = new byte[length];
          int have = Math.min(length, headLength - end - sep);
          System.arraycopy(head, end + sep, content, 0, have);
          ByteBuffer rest = ByteBuffer.wrap(content, have, length - have);
          while (rest.hasRemaining() && ch.read(rest) > 0) {
            // read the rest of the body
          }
          JsonNode req = Main.JSON.readTree(content);
          if (req.hasNonNull("passphrase")) {
            char[] pass = req.get("passphrase").asText().toCharArray();
            try {
              sealed.unlockWithPassphrase(pass);
            } finally {
              Arrays.fill(pass, '\0');
            }
            body.put("unlocked", true);
          } else if (req.hasNonNull("share")) {
            SealedKey.Progress p = sealed.offerShare(req.get("share").asText());
            body.put("unlocked", p.unlocked());
            body.put("shares_given", p.have());
            body.put("shares_needed", p.need());
          } else {
            status = 400;
            body.put("title", "body must be {\"passphrase\": ...} or {\"share\": ...}");
          }
        }
      }
    } catch (IOException e) {
      // UnlockRefused (wrong passphrase, shares, tampering) or unreadable JSON: the message names no secret
      status = 403;
      body.clear();
      body.put("title", e instanceof com.fasterxml.jackson.core.JsonProcessingException ? "body is not JSON" : e.getMessage());
    } finally {
      Arrays.fill(head, (byte) 0);
      if (content != null) Arrays.fill(content, (byte) 0);
    }
    byte[] json = Main.JSON.writeValueAsBytes(body);
    String response = "HTTP/1.1 " + status + (status == 200 ? " OK" : " Error") + "\r\nContent-Type: application/json\r\nContent-Length: "
        + json.length + "\r\nConnection: close\r\n\r\n";
    ch.write(ByteBuffer.wrap(response.getBytes(StandardCharsets.US_ASCII)));
    ch.write(ByteBuffer.wrap(json));
  }

  private static int contentLength(String headers) {
    for (String line : headers.split("\r?\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase("Content-Length")) {
        try {
          return Integer.parseInt(line.substring(colon + 1).trim());
        } catch (NumberFormatException e) {
          return -1;
        }
      }
    }
    return -1;
  }
}
