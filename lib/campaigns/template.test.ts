import { describe, expect, it } from "vitest";
import {
  checkTemplateAgainstSchema,
  decodeEntities,
  escapeHtml,
  htmlToText,
  missingVariables,
  parseTemplate,
  renderEmail,
  renderTemplate,
  TemplateError,
  TemplateSyntaxError,
  templateVariables,
  toHeaderValue,
  unresolvedVariables,
  type TemplateContext,
} from "./template";

const ada: TemplateContext = {
  user: {
    email: "ada@example.org",
    phone: "+4915112345678",
    attributes: { firstName: "Ada", plan: "pro", visits: 3, vip: true, address: { city: "Berlin" }, tags: ["a", "b"] },
  },
  segment: { name: "Cart adders" },
  campaign: { name: "Spring sale" },
};

function syntaxErrorOf(text: string): TemplateSyntaxError {
  try {
    parseTemplate(text);
  } catch (error) {
    if (error instanceof TemplateSyntaxError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(text)} not to parse`);
}

function renderErrorOf(fn: () => unknown): TemplateError {
  try {
    fn();
  } catch (error) {
    if (error instanceof TemplateError) return error;
    throw error;
  }
  throw new Error("expected a TemplateError");
}

describe("parseTemplate", () => {
  it("splits text and variables, with positions", () => {
    expect(parseTemplate("Hi {{user.attributes.firstName}}, welcome to {{ segment.name }}!")).toEqual([
      { type: "text", text: "Hi " },
      { type: "variable", path: "user.attributes.firstName", root: "user", keys: ["attributes", "firstName"], start: 3, end: 32 },
      { type: "text", text: ", welcome to " },
      { type: "variable", path: "segment.name", root: "segment", keys: ["name"], start: 45, end: 63 },
      { type: "text", text: "!" },
    ]);
  });

  it("accepts any whitespace inside the braces, including line breaks", () => {
    const parts = parseTemplate("{{\tuser.email\n}}{{   campaign.name}}");
    expect(parts.map((p) => (p.type === "variable" ? p.path : p.text))).toEqual(["user.email", "campaign.name"]);
  });

  it("keeps dotted attribute keys, dashes and digits", () => {
    const [v] = parseTemplate("{{user.attributes.address.city-name_2}}");
    expect(v).toMatchObject({ path: "user.attributes.address.city-name_2", keys: ["attributes", "address", "city-name_2"] });
  });

  it("returns plain text, an empty template and a lone '}}' as text", () => {
    expect(parseTemplate("")).toEqual([]);
    expect(parseTemplate("no tags")).toEqual([{ type: "text", text: "no tags" }]);
    expect(parseTemplate("a }} b { c }")).toEqual([{ type: "text", text: "a }} b { c }" }]);
  });

  it.each([
    ["Hi {{user.email", 3, "unclosed '{{'"],
    ["Hi {{user.email} and more", 3, "unclosed '{{'"],
    ["{{user.email {{segment.name}}", 0, "another '{{' comes before"],
    ["a {{}} b", 2, "empty tag"],
    ["a {{   }} b", 2, "empty tag"],
    ["{{ first_name }}", 3, "unknown variable 'first_name'"],
    ["x {{ customer.email }}", 5, "unknown variable 'customer.email'"],
    ["{{User.email}}", 2, "unknown variable 'User.email'"],
    ["{{user..email}}", 7, "empty name"],
    ["{{.user}}", 2, "empty name"],
    ["{{user.}}", 6, "ends with '.'"],
    ["{{user.email | upper}}", 12, "unexpected character ' '"],
    ["{{{user.email}}}", 2, "unexpected character '{'"],
    ["{{user.attributes.first name}}", 23, "unexpected character ' '"],
    ["{{#each items}}", 2, "unexpected character '#'"],
  ])("refuses %j at position %i", (text, position, reason) => {
    const error = syntaxErrorOf(text);
    expect(error.position).toBe(position);
    expect(error.reason).toContain(reason);
    expect(error.message).toContain(`at position ${position}`);
  });

  it("reports line and column for long templates", () => {
    const error = syntaxErrorOf("<p>Hello</p>\n<p>\n  {{ user.email </p>");
    expect(error).toMatchObject({ position: 19, line: 3, column: 3 });
    expect(error.message).toBe("unclosed '{{' (no matching '}}') at position 19 (line 3, column 3)");
  });

  it("leaves unknown fields under a known root to checkTemplateAgainstSchema", () => {
    expect(parseTemplate("{{user.name}}")[0]).toMatchObject({ path: "user.name" });
  });

  it("handles a template with thousands of tags", () => {
    const text = "<p>{{user.email}} and some text</p>".repeat(3000);
    const parts = parseTemplate(text);
    expect(parts.filter((p) => p.type === "variable")).toHaveLength(3000);
    expect(renderTemplate(parts, ada, { escape: "html" })).toBe("<p>ada@example.org and some text</p>".repeat(3000));
  });
});

describe("templateVariables", () => {
  it("lists distinct variables in order of first appearance", () => {
    const vars = templateVariables("{{user.email}} {{segment.name}} {{ user.email }} {{user.attributes.plan}}");
    expect(vars.map((v) => v.path)).toEqual(["user.email", "segment.name", "user.attributes.plan"]);
    expect(vars[0]).toMatchObject({ start: 0, end: 14 });
  });

  it("takes parsed parts as well as text", () => {
    expect(templateVariables(parseTemplate("{{campaign.name}}")).map((v) => v.path)).toEqual(["campaign.name"]);
  });

  it("is empty for a template without variables", () => {
    expect(templateVariables("plain")).toEqual([]);
  });
});

describe("checkTemplateAgainstSchema", () => {
  it("accepts every variable that can resolve", () => {
    const text = "{{user.email}} {{user.phone}} {{user.attributes.a.b}} {{segment.name}} {{campaign.name}}";
    expect(checkTemplateAgainstSchema(text)).toEqual([]);
  });

  it("reports a syntax error as a single issue", () => {
    expect(checkTemplateAgainstSchema("ok\n {{user.email")).toEqual([
      { kind: "syntax", path: null, position: 4, line: 2, column: 2, message: "unclosed '{{' (no matching '}}')" },
    ]);
  });

  it("flags unknown roots and unknown fields, once per path, with positions", () => {
    const issues = checkTemplateAgainstSchema(
      "{{first_name}} {{user.name}} {{user}} {{segment.id}} {{user.email.domain}} {{user.attributes}} {{user.name}}",
    );
    expect(issues.map((i) => [i.kind, i.path, i.position])).toEqual([
      ["unknown_root", "first_name", 0],
      ["unknown_field", "user.name", 15],
      ["unknown_field", "user", 29],
      ["unknown_field", "segment.id", 38],
      ["unknown_field", "user.email.domain", 53],
      ["unknown_field", "user.attributes", 75],
    ]);
    expect(issues[1]!.message).toBe("unknown variable 'user.name': use user.email, user.phone or user.attributes.<key>");
    expect(issues[3]!.message).toContain("use segment.name");
    expect(issues[4]!.message).toContain("user.email is a single value");
    expect(issues[5]!.message).toContain("needs a key");
  });

  it("checks attribute keys only when they are given, and a known key covers the keys below it", () => {
    const text = "{{user.attributes.plan}} {{user.attributes.address.city}} {{user.attributes.a.b.c}} {{user.attributes.planz}}";
    expect(checkTemplateAgainstSchema(text)).toEqual([]);
    const issues = checkTemplateAgainstSchema(text, { attributeKeys: ["plan", "address", "a.b"] });
    expect(issues.map((i) => [i.kind, i.path])).toEqual([["unknown_attribute", "user.attributes.planz"]]);
    expect(issues[0]!.message).toBe("unknown attribute 'planz' in 'user.attributes.planz'");
  });

  it("treats attribute keys case-sensitively and an empty key list as 'no attributes'", () => {
    expect(checkTemplateAgainstSchema("{{user.attributes.Plan}}", { attributeKeys: ["plan"] })).toHaveLength(1);
    expect(checkTemplateAgainstSchema("{{user.attributes.plan}}", { attributeKeys: [] })).toHaveLength(1);
    expect(checkTemplateAgainstSchema("{{user.email}}", { attributeKeys: [] })).toEqual([]);
  });
});

describe("missingVariables and unresolvedVariables", () => {
  it("is empty when the context fills every variable", () => {
    expect(missingVariables("{{user.email}} {{user.attributes.visits}} {{user.attributes.vip}} {{segment.name}}", ada)).toEqual([]);
  });

  it("names absent, null and blank values", () => {
    const ctx: TemplateContext = { user: { email: "  ", phone: null, attributes: { plan: "" } }, segment: {} };
    const text = "{{user.email}} {{user.phone}} {{user.attributes.plan}} {{user.attributes.gone}} {{segment.name}} {{campaign.name}}";
    expect(missingVariables(text, ctx)).toEqual([
      "user.email",
      "user.phone",
      "user.attributes.plan",
      "user.attributes.gone",
      "segment.name",
      "campaign.name",
    ]);
  });

  it("tells missing from non-scalar values", () => {
    expect(unresolvedVariables("{{user.attributes.address}} {{user.attributes.tags}} {{user.attributes.nope}}", ada)).toEqual([
      { path: "user.attributes.address", reason: "not_scalar" },
      { path: "user.attributes.tags", reason: "not_scalar" },
      { path: "user.attributes.nope", reason: "missing" },
    ]);
  });

  it("lists each variable once", () => {
    expect(missingVariables("{{user.phone}}{{user.phone}}", {})).toEqual(["user.phone"]);
  });

  it("never reads through the prototype chain", () => {
    const text = "{{user.attributes.constructor}} {{user.attributes.__proto__}} {{user.attributes.toString}} {{user.attributes.hasOwnProperty}}";
    expect(missingVariables(text, ada)).toHaveLength(4);
    expect(missingVariables("{{user.attributes.tags.length}}", ada)).toEqual(["user.attributes.tags.length"]);
  });

  it("counts NaN and Infinity as missing", () => {
    expect(missingVariables("{{user.attributes.n}}", { user: { attributes: { n: Number.NaN } } })).toEqual(["user.attributes.n"]);
  });
});

describe("renderTemplate", () => {
  it("fills variables and renders numbers and booleans", () => {
    const text = "Hi {{ user.attributes.firstName }}: {{user.attributes.visits}} visits, vip={{user.attributes.vip}} ({{segment.name}}, {{campaign.name}})";
    expect(renderTemplate(text, ada, { escape: "none" })).toBe("Hi Ada: 3 visits, vip=true (Cart adders, Spring sale)");
  });

  it("resolves nested and dotted attribute keys", () => {
    const ctx: TemplateContext = {
      user: { attributes: { address: { city: "Berlin" }, "shipping.city": "Paris", "a.b": { c: "flat-then-nested" }, x: { "y.z": "nested-dotted" } } },
    };
    const text = "{{user.attributes.address.city}} {{user.attributes.shipping.city}} {{user.attributes.a.b.c}} {{user.attributes.x.y.z}}";
    expect(renderTemplate(text, ctx, { escape: "none" })).toBe("Berlin Paris flat-then-nested nested-dotted");
  });

  it("prefers the longest matching key and falls back to shorter ones", () => {
    const ctx: TemplateContext = { user: { attributes: { "a.b": "long", a: { b: "short", c: "only-nested" } } } };
    expect(renderTemplate("{{user.attributes.a.b}} {{user.attributes.a.c}}", ctx, { escape: "none" })).toBe("long only-nested");
  });

  it("reads array items by index", () => {
    expect(renderTemplate("{{user.attributes.tags.1}}", ada, { escape: "none" })).toBe("b");
    expect(missingVariables("{{user.attributes.tags.2}} {{user.attributes.tags.01}}", ada)).toHaveLength(2);
  });

  it("HTML-escapes values, and only values, in html mode", () => {
    const ctx: TemplateContext = { user: { attributes: { name: `<script>alert("x")</script> & 'co'` } } };
    expect(renderTemplate('<p title="{{user.attributes.name}}">{{user.attributes.name}}</p>', ctx, { escape: "html" })).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;</p>',
    );
  });

  it("leaves values untouched in none mode", () => {
    const ctx: TemplateContext = { user: { attributes: { name: "<b>&amp;</b>" } } };
    expect(renderTemplate("{{user.attributes.name}}", ctx, { escape: "none" })).toBe("<b>&amp;</b>");
  });

  it("does not re-scan values for tags", () => {
    const ctx: TemplateContext = { user: { attributes: { name: "{{user.email}}" } } };
    expect(renderTemplate("{{user.attributes.name}}", ctx, { escape: "none" })).toBe("{{user.email}}");
  });

  it("throws a TemplateError listing every missing variable instead of rendering a blank", () => {
    const error = renderErrorOf(() => renderTemplate("Hi {{user.attributes.firstName}} {{user.phone}} {{segment.name}}", { user: {} }, { escape: "html" }));
    expect(error.missing).toEqual(["user.attributes.firstName", "user.phone", "segment.name"]);
    expect(error.nonScalar).toEqual([]);
    expect(error.message).toBe("cannot render template: no value for user.attributes.firstName, user.phone, segment.name");
  });

  it("refuses objects and arrays as non-scalar rather than rendering JSON", () => {
    const text = "{{user.attributes.address}} {{user.attributes.tags}} {{user.phone}}";
    const error = renderErrorOf(() => renderTemplate(text, { user: { attributes: ada.user!.attributes } }, { escape: "none" }));
    expect(error.nonScalar).toEqual(["user.attributes.address", "user.attributes.tags"]);
    expect(error.missing).toEqual(["user.phone"]);
    expect(error.message).toContain("not a single value (an object or array) for user.attributes.address, user.attributes.tags");
  });

  it("throws TemplateSyntaxError for malformed text", () => {
    expect(() => renderTemplate("{{user.email", ada, { escape: "none" })).toThrow(TemplateSyntaxError);
  });

  it("renders from pre-parsed parts", () => {
    const parts = parseTemplate("Hi {{user.email}}");
    expect(renderTemplate(parts, ada, { escape: "none" })).toBe("Hi ada@example.org");
  });
});

describe("renderEmail", () => {
  const body = [
    "<!DOCTYPE html>",
    "<html><head><title>Ignored</title><style>p { color: red; }</style></head>",
    "<body>",
    "  <!-- tracking comment -->",
    "  <h1>Hello {{user.attributes.firstName}}</h1>",
    '  <p>You are in <b>{{segment.name}}</b> &amp; we&#39;re glad.<br>See <a href="https://x.test/?u={{user.email}}">your account</a>.</p>',
    "  <ul><li>One</li><li>Two &lt;3</li></ul>",
    "</body></html>",
  ].join("\n");

  it("renders subject, escaped HTML and a plain-text version", () => {
    const ctx: TemplateContext = { ...ada, user: { ...ada.user, attributes: { firstName: "Ada <the first> & co" } } };
    const email = renderEmail({ subject: "Hi {{user.attributes.firstName}} — {{campaign.name}}", template: body }, ctx);
    expect(email.subject).toBe("Hi Ada <the first> & co — Spring sale");
    expect(email.html).toContain("<h1>Hello Ada &lt;the first&gt; &amp; co</h1>");
    expect(email.html).toContain('href="https://x.test/?u=ada@example.org"');
    expect(email.text).toBe(
      ["Hello Ada <the first> & co", "", "You are in Cart adders & we're glad.", "See your account.", "", "- One", "- Two <3"].join("\n"),
    );
  });

  it("keeps values literal in the text version: no tag stripping or entity decoding of values", () => {
    const ctx: TemplateContext = { user: { attributes: { note: "a <b>bold</b> &amp; move" } } };
    const email = renderEmail({ subject: "s", template: "<p>{{user.attributes.note}}</p>" }, ctx);
    expect(email.text).toBe("a <b>bold</b> &amp; move");
    expect(email.html).toBe("<p>a &lt;b&gt;bold&lt;/b&gt; &amp;amp; move</p>");
  });

  it("strips CR and LF from the subject so a value cannot inject headers", () => {
    const ctx: TemplateContext = { user: { attributes: { firstName: "Ada\r\nBcc: victim@example.org\r\n\r\nbody" } } };
    const { subject } = renderEmail({ subject: "Hi {{user.attributes.firstName}}", template: "x" }, ctx);
    expect(subject).toBe("Hi Ada Bcc: victim@example.org body");
    expect(subject).not.toMatch(/[\r\n]/);
  });

  it("reports missing variables of subject and body together, once each", () => {
    const template = { subject: "{{user.attributes.firstName}} {{campaign.name}}", template: "{{user.attributes.firstName}} {{user.phone}}" };
    const error = renderErrorOf(() => renderEmail(template, { campaign: { name: "c" } }));
    expect(error.missing).toEqual(["user.attributes.firstName", "user.phone"]);
  });

  it("drops a value that only appears inside a tag from the text version", () => {
    const email = renderEmail({ subject: "s", template: '<img alt="{{user.email}}"> hi' }, ada);
    expect(email.text).toBe("hi");
  });

  it("ignores private-use marker characters already in the template text", () => {
    const email = renderEmail({ subject: "s", template: "a\uE0000\uE001b {{user.email}}" }, ada);
    expect(email.text).toBe("a0b ada@example.org");
  });
});

describe("helpers", () => {
  it("escapeHtml escapes the five characters", () => {
    expect(escapeHtml(`&<>"'x`)).toBe("&amp;&lt;&gt;&quot;&#39;x");
  });

  it("decodeEntities decodes the basic set once, numeric references, and leaves the rest", () => {
    expect(decodeEntities("&amp;lt; &lt;&gt;&quot;&apos;&#39;&nbsp;&#x263A;&#9731; &copy; &#0; &#xD800; & x")).toBe(
      "&lt; <>\"'' ☺☃ &copy; &#0; &#xD800; & x",
    );
  });

  it("htmlToText keeps a lone '<' that opens no tag", () => {
    expect(htmlToText("<p>a < b and c > d</p>")).toBe("a < b and c > d");
  });

  it("htmlToText drops script content", () => {
    expect(htmlToText("<p>x</p><script>var a = '<p>no</p>';</script>")).toBe("x");
  });

  it("toHeaderValue removes every kind of line break and control character", () => {
    expect(toHeaderValue(" a\rb\nc\r\nd\u2028e\u0085f\tg\u0000h ")).toBe("a b c d e f gh");
  });
});
