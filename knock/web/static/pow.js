/*
 * Knock's proof of work for web forms (knock/core/pow.py describes the challenge).
 *
 * Progressive enhancement: every <form data-knock-pow="CHALLENGE"> (or
 * <form data-knock-pow-url="URL">, which first fetches {"challenge": "..."} from Knock) is
 * held back on submit until this script has found a nonce such that
 * SHA-256(challenge + ":" + nonce) starts with the challenge's number of zero bits; the hidden
 * inputs pow_challenge and pow_nonce then carry both, and the form is submitted.
 *
 * One file, three roles: in a page it enhances the forms and starts itself as a Web Worker
 * (same origin only, so `script-src 'self'` is enough); in a worker it solves; under Node it
 * exports the hashing and solving functions (the tests compare them with Python's). When no
 * worker can start (another origin, a CSP without it), the page solves in short slices itself.
 *
 * Plain ES2017, no dependencies, no build step.
 */
(function (root) {
  "use strict";

  // SHA-256 (FIPS 180-4), on 32-bit words.

  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);
  var IV = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ];

  /** Load the 64-byte block of `bytes` at `offset` into w[0..15], big-endian. */
  function load(w, bytes, offset) {
    for (var i = 0; i < 16; i++) {
      var j = offset + 4 * i;
      w[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
    }
  }

  /** Fold the block in w[0..15] into `state` (8 words); w (64 words) is scratch. */
  function compress(state, w) {
    var t, x, y;
    for (t = 16; t < 64; t++) {
      x = w[t - 15];
      y = w[t - 2];
      w[t] =
        (w[t - 16] +
          (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) +
          w[t - 7] +
          (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) |
        0;
    }
    var a = state[0], b = state[1], c = state[2], d = state[3];
    var e = state[4], f = state[5], g = state[6], h = state[7];
    for (t = 0; t < 64; t++) {
      var t1 =
        (h +
          (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
          ((e & f) ^ (~e & g)) +
          K[t] +
          w[t]) |
        0;
      var t2 =
        ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & b) ^ (a & c) ^ (b & c))) |
        0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    state[0] = (state[0] + a) | 0;
    state[1] = (state[1] + b) | 0;
    state[2] = (state[2] + c) | 0;
    state[3] = (state[3] + d) | 0;
    state[4] = (state[4] + e) | 0;
    state[5] = (state[5] + f) | 0;
    state[6] = (state[6] + g) | 0;
    state[7] = (state[7] + h) | 0;
  }

  /** Write the message length in bits (`length` bytes) into the last 8 bytes of `block`. */
  function putLength(block, length) {
    var end = block.length;
    var high = Math.floor(length / 0x20000000);
    var low = (length * 8) >>> 0;
    block[end - 8] = high >>> 24;
    block[end - 7] = high >>> 16;
    block[end - 6] = high >>> 8;
    block[end - 5] = high;
    block[end - 4] = low >>> 24;
    block[end - 3] = low >>> 16;
    block[end - 2] = low >>> 8;
    block[end - 1] = low;
  }

  function utf8(text) {
    return new TextEncoder().encode(text);
  }

  /** SHA-256 of a Uint8Array, as 8 words. */
  function sha256Words(bytes) {
    var state = new Int32Array(IV);
    var w = new Int32Array(64);
    var full = bytes.length - (bytes.length % 64);
    for (var offset = 0; offset < full; offset += 64) {
      load(w, bytes, offset);
      compress(state, w);
    }
    var rest = bytes.length - full;
    var tail = new Uint8Array(rest < 56 ? 64 : 128);
    tail.set(bytes.subarray(full));
    tail[rest] = 0x80;
    putLength(tail, bytes.length);
    for (offset = 0; offset < tail.length; offset += 64) {
      load(w, tail, offset);
      compress(state, w);
    }
    return state;
  }

  /** SHA-256 of a string (UTF-8), in lower-case hex. */
  function sha256Hex(text) {
    var words = sha256Words(utf8(text));
    var hex = "";
    for (var i = 0; i < 8; i++) hex += ("0000000" + (words[i] >>> 0).toString(16)).slice(-8);
    return hex;
  }

  /** Whether the digest (8 words) starts with at least `bits` zero bits. */
  function hasZeroBits(words, bits) {
    for (var i = 0; bits > 0; i++, bits -= 32) {
      if (bits < 32) return words[i] >>> (32 - bits) === 0;
      if (words[i] !== 0) return false;
    }
    return true;
  }

  /**
   * Try the nonces start, start + 1, ... (at most `limit` of them) on `text` and return the
   * first that gives `bits` zero bits, as {nonce: "123", hashes: tries}, or
   * {nonce: null, hashes: limit} when none of them does. Counts as knock/core/pow.py's
   * `solve` does, so both find the same nonce.
   *
   * The blocks of text + ":" that no nonce touches are hashed once; each try then costs one
   * compression (two when the nonce's digits push the padding into another block).
   */
  function solve(text, bits, start, limit) {
    start = start || 0;
    limit = limit === undefined ? Infinity : limit;
    var prefix = utf8(text + ":");
    var full = prefix.length - (prefix.length % 64);
    var middle = new Int32Array(IV);
    var w = new Int32Array(64);
    var out = new Int32Array(8);
    for (var offset = 0; offset < full; offset += 64) {
      load(w, prefix, offset);
      compress(middle, w);
    }
    var rest = prefix.length - full;
    var block = new Uint8Array(128);
    block.set(prefix.subarray(full));
    var digits = [];
    var first = String(start);
    for (var k = 0; k < first.length; k++) digits.push(first.charCodeAt(k));
    var blocks = 0;
    for (var tries = 0; tries < limit; tries++) {
      if (blocks === 0) {
        // (Re)lay out the tail: digits, the 0x80 marker, zeros, the length.
        blocks = rest + digits.length + 9 <= 64 ? 1 : 2;
        block.fill(0, rest);
        block[rest + digits.length] = 0x80;
        putLength(blocks === 1 ? block.subarray(0, 64) : block, full + rest + digits.length);
      }
      for (k = 0; k < digits.length; k++) block[rest + k] = digits[k];
      out.set(middle);
      load(w, block, 0);
      compress(out, w);
      if (blocks === 2) {
        load(w, block, 64);
        compress(out, w);
      }
      if (hasZeroBits(out, bits)) {
        return { nonce: String.fromCharCode.apply(null, digits), hashes: tries + 1 };
      }
      // Count up in decimal; one more digit means a new layout.
      k = digits.length - 1;
      while (k >= 0 && digits[k] === 57) digits[k--] = 48;
      if (k >= 0) {
        digits[k] += 1;
      } else {
        digits.unshift(49);
        blocks = 0;
      }
    }
    return { nonce: null, hashes: limit };
  }

  /** The bits a challenge asks for (its third field), or NaN if it is not a challenge. */
  function bitsOf(challenge) {
    var parts = String(challenge).split(".");
    if (parts.length !== 4 || !/^[0-9]{1,2}$/.test(parts[2])) return NaN;
    return parseInt(parts[2], 10);
  }

  var api = { sha256Hex: sha256Hex, solve: solve, bitsOf: bitsOf, hasZeroBits: hasZeroBits };

  if (typeof document === "undefined") {
    if (typeof importScripts === "function") {
      // A Web Worker: {text, bits[, start, limit]} in, {nonce, hashes} out.
      root.onmessage = function (event) {
        var data = event.data || {};
        var found = solve(String(data.text), Number(data.bits), data.start, data.limit);
        root.postMessage(found);
      };
    } else if (typeof module === "object" && module && module.exports) {
      module.exports = api; // Node, for the tests and the benchmark
    }
    return;
  }

  // A page.

  var SCRIPT = document.currentScript ? document.currentScript.src : "";
  var TEXTS = {
    working: "Checking your browser\u2026 this takes a moment.",
    sending: "Sending\u2026",
    failed: "Your browser could not finish the check. Please try again.",
  };
  var BUTTONS = "button:not([type]), button[type=submit], input[type=submit], input[type=image]";
  var forms = []; // {form, status, work, buttons}

  /** Solve here, in slices of about 10 ms, yielding to the page between them. */
  function solveHere(text, bits) {
    return new Promise(function (resolve) {
      var channel = new MessageChannel();
      var start = 0;
      var slice = 2048;
      channel.port1.onmessage = function () {
        var began = Date.now();
        var found = solve(text, bits, start, slice);
        if (found.nonce !== null) {
          channel.port1.close();
          resolve({ nonce: found.nonce, hashes: start + found.hashes, where: "page" });
          return;
        }
        start += slice;
        if (Date.now() - began < 10) slice *= 2;
        channel.port2.postMessage(null);
      };
      channel.port2.postMessage(null);
    });
  }

  /** Solve in a worker started from this very file, or here if no worker can start. */
  function solveSomewhere(text, bits) {
    var url = SCRIPT ? new URL(SCRIPT, document.baseURI) : null;
    if (!url || typeof Worker !== "function" || url.origin !== location.origin) {
      return solveHere(text, bits);
    }
    return new Promise(function (resolve, reject) {
      var worker = null;
      var settled = false;
      function fallBack() {
        if (settled) return;
        settled = true;
        if (worker) worker.terminate();
        solveHere(text, bits).then(resolve, reject);
      }
      try {
        worker = new Worker(url.href);
      } catch (error) {
        fallBack();
        return;
      }
      worker.onmessage = function (event) {
        if (settled) return;
        settled = true;
        worker.terminate();
        var found = event.data;
        if (found && typeof found.nonce === "string") {
          resolve({ nonce: found.nonce, hashes: found.hashes, where: "worker" });
        } else {
          reject(new Error("the worker found no nonce"));
        }
      };
      worker.onerror = function (event) {
        if (event && event.preventDefault) event.preventDefault();
        fallBack();
      };
      worker.postMessage({ text: text, bits: bits });
    });
  }

  /** The form's challenge: its attribute, or what its URL answers ("" when Knock asks none). */
  async function challengeOf(form) {
    var given = (form.getAttribute("data-knock-pow") || "").trim();
    if (given) return given;
    var response = await fetch(form.getAttribute("data-knock-pow-url"), {
      credentials: "omit",
      cache: "no-store",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) throw new Error("the challenge URL answered " + response.status);
    var body = await response.json();
    var challenge = body && body.challenge;
    if (challenge === null || challenge === undefined || challenge === "") return "";
    if (typeof challenge !== "string") throw new Error("the challenge URL sent no challenge");
    return challenge.trim();
  }

  function announce(form, name, detail, cancelable) {
    var event = new CustomEvent("knock-pow:" + name, {
      bubbles: true,
      cancelable: !!cancelable,
      detail: detail,
    });
    return form.dispatchEvent(event);
  }

  /** Fetch (if need be) and solve the form's challenge: {challenge, nonce, hashes, ms}. */
  async function work(form) {
    var began = Date.now();
    var challenge = await challengeOf(form);
    if (!challenge) return { challenge: "", nonce: "", hashes: 0, where: "", milliseconds: 0 };
    var bits = bitsOf(challenge);
    if (isNaN(bits)) throw new Error("not a challenge: " + challenge);
    announce(form, "start", { challenge: challenge, bits: bits });
    var found = await solveSomewhere(challenge, bits);
    return {
      challenge: challenge,
      nonce: found.nonce,
      hashes: found.hashes,
      where: found.where,
      milliseconds: Date.now() - began,
    };
  }

  /**
   * Start on the form's challenge unless that is under way: at the first focus inside the
   * form, so that the work is mostly done by the time the person sends it.
   */
  function begin(entry) {
    var given = (entry.form.getAttribute("data-knock-pow") || "").trim();
    if (entry.work && (!given || entry.work.given === given)) return entry.work;
    var promise = work(entry.form);
    var started = { promise: promise, given: given, done: false };
    entry.work = started;
    promise.then(
      function () {
        started.done = true;
      },
      function () {
        if (entry.work === started) entry.work = null; // try again on the next submit
      }
    );
    return started;
  }

  function hidden(form, name) {
    var input = form.querySelector('input[name="' + name + '"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    return input;
  }

  function say(entry, which) {
    entry.status.textContent = which
      ? entry.form.getAttribute("data-knock-pow-" + which) || TEXTS[which]
      : "";
  }

  function hold(entry) {
    entry.buttons = Array.prototype.filter.call(
      entry.form.querySelectorAll(BUTTONS),
      function (button) {
        return !button.disabled;
      }
    );
    entry.buttons.forEach(function (button) {
      button.disabled = true;
    });
    // No aria-busy on the form: screen readers would hold back the status inside it.
  }

  function release(entry) {
    (entry.buttons || []).forEach(function (button) {
      button.disabled = false;
    });
    entry.buttons = null;
  }

  /** form.submit() leaves out the button that was pressed: carry its name and value along. */
  function keepSubmitter(form, submitter) {
    var old = form.querySelector("input[data-knock-pow-submitter]");
    if (old) old.parentNode.removeChild(old);
    if (!submitter || !submitter.name) return;
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = submitter.name;
    input.value = submitter.value;
    input.setAttribute("data-knock-pow-submitter", "");
    form.appendChild(input);
  }

  async function onSubmit(entry, event) {
    var form = entry.form;
    var wanted = form.getAttribute("data-knock-pow") || form.getAttribute("data-knock-pow-url");
    if (!wanted || !wanted.trim()) return; // nothing asked: the form goes as it is
    event.preventDefault();
    if (entry.buttons) return; // already on its way
    var submitter = event.submitter;
    hold(entry);
    var started = begin(entry);
    if (!started.done) say(entry, "working");
    try {
      var result = await started.promise;
      if (result.challenge) {
        hidden(form, "pow_challenge").value = result.challenge;
        hidden(form, "pow_nonce").value = result.nonce;
      }
      keepSubmitter(form, submitter);
      if (!form.getAttribute("data-knock-pow")) entry.work = null; // spent: fetch anew next time
      if (!announce(form, "solved", result, true)) {
        release(entry); // the page sends the form itself
        say(entry, null);
        return;
      }
      say(entry, "sending");
      HTMLFormElement.prototype.submit.call(form);
      var target = form.getAttribute("target");
      if (target && target !== "_self") release(entry); // this page stays
    } catch (error) {
      release(entry);
      say(entry, "failed");
      announce(form, "error", { message: String((error && error.message) || error) });
    }
  }

  /** Hold `form` back on submit until its proof of work is done (once per form). */
  function enhance(form) {
    // Marked in the page itself, so that a second copy of this script leaves the form alone.
    if (form.hasAttribute("data-knock-pow-enhanced")) return;
    form.setAttribute("data-knock-pow-enhanced", "");
    var status = form.querySelector("[data-knock-pow-status]");
    if (!status) {
      status = document.createElement("div");
      status.className = "knock-pow-status";
      status.setAttribute("data-knock-pow-status", "");
      form.appendChild(status);
    }
    status.setAttribute("role", "status");
    var entry = { form: form, status: status, work: null, buttons: null };
    forms.push(entry);
    form.addEventListener("submit", function (event) {
      onSubmit(entry, event);
    });
    form.addEventListener("focusin", function () {
      var wanted = form.getAttribute("data-knock-pow") || form.getAttribute("data-knock-pow-url");
      if (wanted && wanted.trim()) begin(entry).promise.catch(function () {});
    });
  }

  function enhanceAll() {
    var found = document.querySelectorAll("form[data-knock-pow], form[data-knock-pow-url]");
    Array.prototype.forEach.call(found, enhance);
  }

  // Back to a page kept in the back/forward cache: nothing is being sent any more.
  root.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    forms.forEach(function (entry) {
      if (!entry.buttons) return;
      release(entry);
      say(entry, null);
    });
  });

  api.enhance = enhance;
  api.solveHere = solveHere;
  api.solveSomewhere = solveSomewhere;
  root.KnockPow = api;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enhanceAll);
  } else {
    enhanceAll();
  }
})(typeof self !== "undefined" ? self : this);
