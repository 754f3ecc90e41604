// aedes-persistence types its memory store (asyncPersistence.js) but does not map the module to those types.
declare module 'aedes-persistence/asyncPersistence.js' {
  import MemoryPersistence from 'aedes-persistence/types/asyncPersistence.js';
  export default MemoryPersistence;
}
