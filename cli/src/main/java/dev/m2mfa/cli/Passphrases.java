package dev.m2mfa.cli;

import java.io.Console;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads secrets from a file, an environment variable or a prompt: never from argv. */
final class Passphrases {
  private Passphrases() {}

  static char[] read(Path file, String envVar, String prompt) throws IOException {
    if (file != null) {
      if (Files.size(file) > 4096) throw new IOException("secret file too large: " + file);
      String s = Files.readString(file, StandardCharsets.UTF_8).strip();
      if (s.isEmpty()) throw new IOException("secret file is empty: " + file);
      return s.toCharArray();
    }
    String env = System.getenv(envVar);
    if (env != null && !env.isEmpty()) return env.toCharArray();
    Console c = System.console();
    if (c == null) throw new IOException("no secret given: use --passphrase-file, set " + envVar + ", or run on a terminal to be prompted");
    char[] p = c.readPassword("%s: ", prompt);
    if (p == null || p.length == 0) throw new IOException("no secret entered");
    return p;
  }
}
