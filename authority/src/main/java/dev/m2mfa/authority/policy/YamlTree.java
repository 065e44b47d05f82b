package dev.m2mfa.authority.policy;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * A YAML document as a tree whose every node remembers its line and column.
 *
 * <p>Why not Jackson's {@code JsonNode}: it drops locations, and every validation message
 * must name the line and column of the offending value. Jackson's YAML streaming parser
 * (SnakeYAML underneath) still does all the YAML work; this class only folds its token stream
 * into maps, lists and scalars, keeping each token's location. It also refuses what the
 * streaming parser lets through: a key given twice in one mapping, and a second document in
 * the same file (both would otherwise silently change meaning).
 *
 * <p>Bounds: the caller limits the byte size; SnakeYAML is told the same limit and at most 20
 * levels of nesting. Aliases ({@code *name}) are refused (Jackson does not expand them; it would
 * pass the anchor's name on as text), so there is no "billion laughs" either.
 */
final class YamlTree {
  private YamlTree() {}

  /** Where a node starts: 1-based line and column. */
  record Pos(int line, int column) {}

  sealed interface Node permits MapNode, ListNode, Scalar {
    Pos pos();
  }

  /** A mapping key with its own position. */
  record Key(String name, Pos pos) {}

  record MapNode(Pos pos, Map<String, Entry> entries) implements Node {}

  record Entry(Key key, Node value) {}

  record ListNode(Pos pos, List<Node> items) implements Node {}

  /** A scalar: its text as written (null for YAML null) and whether YAML typed it as an integer. */
  record Scalar(Pos pos, String text, boolean integer) implements Node {}

  /** A document that could not be read; {@code pos} is where the reader gave up. */
  static final class SyntaxError extends Exception {
    private static final long serialVersionUID = 1L;
    final Pos pos;

    SyntaxError(Pos pos, String message) {
      super(message, null, false, false);
      this.pos = pos;
    }
  }

  static Node parse(byte[] yaml, int maxBytes) throws SyntaxError {
    LoaderOptions options = new LoaderOptions();
    options.setCodePointLimit(maxBytes);
    options.setNestingDepthLimit(20);
    options.setMaxAliasesForCollections(10);
    YAMLFactory factory = YAMLFactory.builder().loaderOptions(options)
        .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(20).build()).build();
    try (JsonParser p = factory.createParser(yaml)) {
      JsonToken first = p.nextToken();
      if (first == null) throw new SyntaxError(new Pos(1, 1), "the file is empty");
      Node root = read(p);
      if (p.nextToken() != null) throw new SyntaxError(pos(p.currentTokenLocation()), "only one YAML document per file");
      return root;
    } catch (JsonProcessingException e) {
      // SnakeYAML's own exception says "while parsing X" (context) and then the problem, with
      // the problem's position: report that one
      for (Throwable c = e; c != null; c = c.getCause()) {
        if (c instanceof MarkedYAMLException m && m.getProblem() != null && m.getProblemMark() != null) {
          throw new SyntaxError(new Pos(m.getProblemMark().getLine() + 1, m.getProblemMark().getColumn() + 1),
              "YAML syntax error: " + firstLine(m.getProblem()));
        }
      }
      throw new SyntaxError(pos(e.getLocation()), "YAML syntax error: " + firstLine(e.getOriginalMessage()));
    } catch (IOException e) {
      throw new SyntaxError(new Pos(1, 1), "YAML syntax error: " + firstLine(e.getMessage()));
    }
  }

  private static Node read(JsonParser p) throws IOException, SyntaxError {
    Pos at = pos(p.currentTokenLocation());
    if (p instanceof YAMLParser y && y.isCurrentAlias()) {
      // Jackson hands an alias over as the plain string of its anchor name: refuse it rather
      // than let "*base" silently become a factor name
      throw new SyntaxError(at, "YAML aliases (*" + p.getText() + ") are not supported: write the value out");
    }
    JsonToken t = p.currentToken();
    switch (t) {
      case START_OBJECT -> {
        Map<String, Entry> entries = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          Key key = new Key(p.currentName(), pos(p.currentTokenLocation()));
          p.nextToken();
          Node value = read(p);
          Entry earlier = entries.putIfAbsent(key.name(), new Entry(key, value));
          if (earlier != null) {
            throw new SyntaxError(key.pos(), "key '" + key.name() + "' is given twice in this mapping (first at line "
                + earlier.key().pos().line() + ")");
          }
        }
        return new MapNode(at, entries);
      }
      case START_ARRAY -> {
        List<Node> items = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) items.add(read(p));
        return new ListNode(at, items);
      }
      case VALUE_NULL -> {
        return new Scalar(at, null, false);
      }
      case VALUE_NUMBER_INT -> {
        return new Scalar(at, p.getText(), true);
      }
      default -> {
        return new Scalar(at, p.getText(), false);
      }
    }
  }

  private static Pos pos(JsonLocation l) {
    if (l == null) return new Pos(1, 1);
    return new Pos(Math.max(1, l.getLineNr()), Math.max(1, l.getColumnNr()));
  }

  private static String firstLine(String s) {
    if (s == null || s.isBlank()) return "unreadable";
    String line = s.strip().lines().findFirst().orElse("unreadable");
    return line.length() > 200 ? line.substring(0, 200) : line;
  }
}
