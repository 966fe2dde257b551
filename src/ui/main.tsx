import { createRoot } from 'react-dom/client';
import { markPhase } from '../core/io/marks.ts';
import { App } from './App.tsx';
import './styles.css';

markPhase('moe:main');
createRoot(document.getElementById('root')!).render(<App />);
