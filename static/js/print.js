// "Print" buttons on receipt and invite pages: the print stylesheet hides everything else.
for (const button of document.querySelectorAll('[data-print]')) {
  button.addEventListener('click', () => window.print());
}
