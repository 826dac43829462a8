// The task piscina and tinypool run: the trivial `x + 1`, so the pool's own cost is all that is measured.
export default function addOne(x) {
  return x + 1;
}
