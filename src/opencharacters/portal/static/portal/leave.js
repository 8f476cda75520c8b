/** Leaving a page with unsaved work asks first: the router (app.js) and the browser's own
 * unload both consult the guard the current page set. */

let guard = null;

/** `dirty()` says whether leaving now would lose work; null removes the guard. */
export function setLeaveGuard(dirty) {
  guard = dirty;
}

export function wouldLoseWork() {
  return Boolean(guard && guard());
}

window.addEventListener("beforeunload", (event) => {
  if (wouldLoseWork()) {
    event.preventDefault();
    event.returnValue = "";
  }
});
