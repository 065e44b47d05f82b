package dev.m2mfa.interop;

import dev.m2mfa.authority.Authority;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A real authority process for crash tests: {@code AuthorityMain <authority dir> <passphrase file>}
 * opens an initialized directory, serves on 127.0.0.1 on a free port, prints {@code READY <port>}
 * on stdout and blocks. It exits on its own only when stdin reaches end of file (the parent test
 * JVM went away), so an orphan never outlives the test run.
 */
public final class AuthorityMain {
  private AuthorityMain() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: AuthorityMain <authority dir> <passphrase file>");
      System.exit(2);
    }
    Path dir = Path.of(args[0]);
    String pass = Files.readString(Path.of(args[1]));
    if (pass.endsWith("\n")) pass = pass.substring(0, pass.length() - 1);
    Authority authority = Authority.open(dir, pass.toCharArray(), c -> c.withListen("127.0.0.1", 0));
    authority.start();
    System.out.println("READY " + authority.port());
    System.out.flush();
    while (System.in.read() >= 0) {
      // block until the parent closes our stdin
    }
    authority.close();
    System.exit(0);
  }
}
