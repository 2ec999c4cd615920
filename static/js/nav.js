// On a phone the nav is one line that scrolls sideways: bring the current page's link into view.
const current = document.querySelector('header.top nav [aria-current="page"]');
if (current) {
  const nav = current.closest('nav');
  if (nav.scrollWidth > nav.clientWidth) {
    nav.scrollLeft = current.offsetLeft - (nav.clientWidth - current.offsetWidth) / 2;
  }
}
