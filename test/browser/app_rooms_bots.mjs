// Extra people for the rooms scripts, cheaper than a browser each: one
// helper page of the server's origin holds a WebSocket per person and speaks
// the protocol directly (auth, req/res, ping/pong), so rooms fill up with
// real participants without more renderers.
export async function bots(b, url) {
  const page = await b.newUser({ width: 400, height: 300 });
  await page.goto(url + "/healthz").catch(() => {});
  await page.evaluate(() => {
    const all = {};
    const connect = (name, user, token) => new Promise((resolve, reject) => {
      const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/v1/ws");
      const bot = { user, ws, next: 1, waiting: new Map(), pushes: [] };
      ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token }));
      ws.onerror = () => reject(new Error(`${name}: websocket error`));
      ws.onmessage = (m) => {
        const f = JSON.parse(m.data);
        if (f.type === "hello") {
          all[name] = bot;
          resolve(user);
        } else if (f.type === "res") {
          const w = bot.waiting.get(f.id);
          bot.waiting.delete(f.id);
          if (!w) return;
          if (f.error) w.reject(new Error(`${f.error.code}: ${f.error.message}`));
          else w.resolve(f.result);
        } else if (f.type === "ping") ws.send(JSON.stringify({ type: "pong" }));
        else if (f.type === "push") bot.pushes.push(f);
        else if (f.type === "error") reject(new Error(`${name}: ${f.code} ${f.message}`));
      };
    });
    window.__botAdd = async (name, handle) => {
      const r = await fetch("/v1/auth/signup", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: `${handle}@example.com`, password: "a long password", handle, display_name: name }),
      });
      const body = await r.json();
      if (r.status !== 201) throw new Error(`signup ${r.status}: ${JSON.stringify(body)}`);
      return connect(name, body.user.id, body.access_token);
    };
    window.__botAttach = (name, user, token) => connect(name, user, token);
    window.__botReq = (name, method, params) => new Promise((resolve, reject) => {
      const bot = all[name];
      const id = bot.next++;
      bot.waiting.set(id, { resolve, reject });
      bot.ws.send(JSON.stringify({ type: "req", id, method, params }));
    });
  });
  const tag = Date.now().toString(36).slice(-5);
  return {
    /** add signs a new person up and connects them; returns their user id. */
    add: (name) => page.evaluate(([n, h]) => window.__botAdd(n, h), [name, name.toLowerCase().replace(/[^a-z]/g, "") + tag]),
    /** as connects as a browser page's signed-in user (its stored session). */
    async as(name, userPage) {
      const s = await userPage.evaluate(() => JSON.parse(localStorage.getItem("parley.session")));
      return page.evaluate(([n, u, t]) => window.__botAttach(n, u, t), [name, s.user.id, s.access_token]);
    },
    /** req sends a request as name; rejects with "code: message". */
    req: (name, method, params = {}) => page.evaluate(([n, m, p]) => window.__botReq(n, m, p), [name, method, params]),
    /** enter joins a live room and follows its stream. */
    async enter(name, room) {
      await page.evaluate(([n, r]) => window.__botReq(n, "room.join", { room: r }), [name, room]);
      await page.evaluate(([n, r]) => window.__botReq(n, "subscribe", { stream: `room:${r}` }), [name, room]);
    },
  };
}
