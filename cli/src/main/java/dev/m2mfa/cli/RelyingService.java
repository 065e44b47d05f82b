package dev.m2mfa.cli;

import dev.m2mfa.verifier.M2mfaFilter;
import dev.m2mfa.verifier.TokenVerifier;
import dev.m2mfa.verifier.VerifiedToken;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.util.EnumSet;
import java.util.Set;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * A small relying service guarded by the verifier's servlet filter: {@code GET /inventory}
 * needs a token with the {@code key} and {@code network} factors. Used by the demo and the
 * benchmarks; a real service adds the filter the same way.
 */
public final class RelyingService implements AutoCloseable {
  private final Server server;
  private final ServerConnector connector;

  public RelyingService(TokenVerifier verifier, String host) throws Exception {
    server = new Server();
    connector = new ServerConnector(server);
    connector.setHost(host);
    connector.setPort(0);
    connector.setAcceptedTcpNoDelay(true);
    server.addConnector(connector);
    ServletContextHandler ctx = new ServletContextHandler();
    ctx.setContextPath("/");
    M2mfaFilter filter = M2mfaFilter.builder(verifier).route("/inventory", Set.of("key", "network"), null).build();
    ctx.addFilter(new FilterHolder(filter), "/*", EnumSet.of(DispatcherType.REQUEST));
    ctx.addServlet(new ServletHolder(new HttpServlet() {
      @Override
      protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        VerifiedToken t = (VerifiedToken) req.getAttribute(M2mfaFilter.TOKEN_ATTRIBUTE);
        resp.setContentType("application/json");
        resp.getWriter().write("{\"hello\":\"" + (t == null ? "anonymous" : t.machine()) + "\",\"items\":42}");
      }
    }), "/inventory");
    server.setHandler(ctx);
    server.start();
  }

  public URI uri(String path) {
    return URI.create("http://" + connector.getHost() + ":" + connector.getLocalPort() + path);
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }
}
