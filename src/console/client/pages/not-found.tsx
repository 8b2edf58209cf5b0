import { Page } from '../components/page';

export function NotFound() {
  return (
    <Page title="Page not found">
      <p>
        There is no such page in the console. <a href="#/">Go to the overview</a>.
      </p>
    </Page>
  );
}
