"""Cheap accessibility checks run in the page (no third-party engine): labels, names, focus order, contrast, width."""

from __future__ import annotations

from typing import Any

_CHECKS = r"""
() => {
  const problems = [];
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length)
    && getComputedStyle(el).visibility !== 'hidden';
  const rgb = (value) => (value.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const bg = rgb(getComputedStyle(node).backgroundColor);
      if (bg.length === 3 || (bg.length === 4 && bg[3] > 0.5)) return bg.slice(0, 3);
    }
    return [255, 255, 255];
  };
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (!visible(el)) continue;
    const label = el.id && document.querySelector(`label[for="${el.id}"]`);
    if (!label && !el.getAttribute('aria-label')) problems.push(`no label: #${el.id || el.name}`);
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!visible(el)) continue;
    if (!(el.textContent.trim() || el.getAttribute('aria-label'))) problems.push(`no accessible name: ${el.outerHTML}`);
  }
  for (const el of document.querySelectorAll('[tabindex]')) {
    if (Number(el.getAttribute('tabindex')) > 0) problems.push(`positive tabindex breaks focus order: #${el.id}`);
  }
  for (const el of document.querySelectorAll('h1, h2, h3, p, dt, dd, label, button, li')) {
    if (!visible(el) || !el.textContent.trim()) continue;
    const style = getComputedStyle(el);
    const fg = rgb(style.color).slice(0, 3);
    const [a, b] = [lum(fg), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const text = el.textContent.trim().slice(0, 30);
    if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)} < AA: ${el.tagName}#${el.id} "${text}"`);
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    problems.push('horizontal scrolling on a phone-sized screen');
  }
  if (!document.documentElement.lang) problems.push('no document language');
  return problems;
}
"""


def accessibility_problems(page: Any) -> list[str]:
    """Problems on the page as it is shown now (hidden views are skipped)."""
    return page.evaluate(_CHECKS)
