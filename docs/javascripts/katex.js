// Typeset the pages' formulas with KaTeX, served from the site itself (assets/katex/).
//
// pymdownx.arithmatex (generic mode) leaves each formula as its TeX source in an element of
// class "arithmatex": \( ... \) in a <span> for inline math, \[ ... \] in a <div> for display
// math, a bare \begin{env} ... \end{env} block as it was written. Each one is replaced by
// KaTeX's rendering; a formula KaTeX cannot parse is shown in red (a .katex-error element, which
// the site's tests look for) instead of stopping the others. Material emits document$ on every
// page load, so this runs for each page shown.
document$.subscribe(({ body }) => {
  for (const element of body.querySelectorAll(".arithmatex")) {
    const source = element.textContent.trim();
    const inline = source.startsWith("\\(");
    const delimited = inline || source.startsWith("\\[");
    const tex = delimited ? source.slice(2, -2) : source;  // drop the \( \) or \[ \]
    katex.render(tex, element, { displayMode: !inline, throwOnError: false });
  }
});
