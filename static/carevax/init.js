// Starts the NHS.UK frontend components (header menu, error summary focus, skip link, file
// upload). The design system marks the page as script-capable with an inline snippet, which
// our Content Security Policy forbids, so this module does it; browsers that cannot run
// modules never get the class and keep the plain HTML behaviour.
import { initAll } from "../nhsuk/nhsuk-frontend.min.js";

document.body.classList.add("js-enabled", "nhsuk-frontend-supported");
initAll();
