import { ActorSystem, defineActor, restart } from '@troupe/core';

type Msg = { type: 'add'; n: number } | { type: 'total' };
const Adder = defineActor<Msg, number>({
  init: () => 0,
  receive: (sum, msg, ctx) => {
    if (msg.type === 'add') {
      if (!Number.isFinite(msg.n)) throw new TypeError(`not a number: ${msg.n}`);
      return sum + msg.n;
    }
    ctx.reply(sum);
  },
});

const system = await ActorSystem.start({ name: 'app' }); // once, on the main thread
const adder = system.spawn(Adder, { name: 'adder', supervision: restart().withLimit(3, 5_000) });
adder.tell({ type: 'add', n: 2 });
adder.tell({ type: 'add', n: Number.NaN }); // fails, is contained: the actor restarts
adder.tell({ type: 'add', n: 40 });
console.log(await adder.ask({ type: 'total' }, { timeoutMs: 1_000 })); // 40
await system.shutdown(); // also runs on SIGTERM / SIGINT
